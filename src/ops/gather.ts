/**
 * Gathers and scatters at constant indices (the node's second input, an int64 constant).
 * They are linear in the data and each other's adjoints: a gather's cotangent is a
 * scatter-add of g at the same indices, a scatter's is a gather — so the rules close under
 * differentiation. Constant indices are checked when the node is built: in range, and, for
 * scatters that overwrite, no position written twice (ONNX leaves the winner undefined).
 */
import { type Shape, sizeOf, type Value } from '../graph/graph.js';
import { expand } from './builders.js';
import { gatherElements, gatherND, scatterElements, scatterND } from './builders-index.js';
import { fail, type GradRule, normAxis, type OpTable } from './types.js';

/** The constant indices of input 1, each normalised into [0, dim) along the axis it indexes. */
function indicesOf(v: Value): number[] {
  if (v.dtype !== 'int64' || !v.data) fail('indices must be an int64 constant');
  return Array.from(v.data as BigInt64Array, Number);
}
function inRange(i: number, dim: number): number {
  if (!Number.isInteger(i) || i < -dim || i >= dim) fail(`index ${i} out of range for a dimension of ${dim}`);
  return i < 0 ? i + dim : i;
}
const zeros = (like: Value, shape: Shape) => expand(like.graph.scalar(0, like.dtype), shape);

/** Row-major coordinates of every position of `shape`. */
function* positions(shape: Shape): Generator<number[]> {
  const n = sizeOf(shape);
  for (let flat = 0; flat < n; flat++) {
    const pos = new Array<number>(shape.length);
    for (let k = shape.length - 1, r = flat; k >= 0; k--) {
      pos[k] = r % shape[k];
      r = Math.floor(r / shape[k]);
    }
    yield pos;
  }
}

/**
 * Gather(x, idx, axis) as GatherND with batch_dims 0: index tuples [...x.shape[:axis],
 * ...idx.shape, axis + 1] of the leading coordinates and the index.
 */
function gatherAsND(x: Value, idx: Value, axis: number): Value {
  return x.graph.cachedConstant(`gatherND:${idx.id}:${x.shape}:${axis}`, () => {
    const ind = indicesOf(idx);
    const lead = x.shape.slice(0, axis);
    const data: number[] = [];
    for (const p of positions(lead)) for (const i of ind) data.push(...p, inRange(i, x.shape[axis]));
    return x.graph.constant(data, [...lead, ...idx.shape, axis + 1], 'int64');
  });
}

/** GatherND's index tuples with batch_dims b spelt out (b batch coordinates prepended). */
function withBatchCoordinates(idx: Value, b: number): Value {
  if (b === 0) return idx;
  return idx.graph.cachedConstant(`batchND:${idx.id}:${b}`, () => {
    const k = idx.shape[idx.rank - 1];
    const ind = indicesOf(idx);
    const data: number[] = [];
    let t = 0;
    for (const p of positions(idx.shape.slice(0, -1))) {
      data.push(...p.slice(0, b), ...ind.slice(t, t + k));
      t += k;
    }
    return idx.graph.constant(data, [...idx.shape.slice(0, -1), b + k], 'int64');
  });
}

/** Checks GatherND/ScatterND index tuples against data's shape; returns the tuples normalised. */
function checkTuples(data: Value, idx: Value, b: number): number[][] {
  const k = idx.shape[idx.rank - 1];
  if (idx.rank < 1 || k < 1 || b + k > data.rank)
    fail(`index tuples of length ${k} do not fit rank ${data.rank}`);
  if (data.shape.slice(0, b).join() !== idx.shape.slice(0, b).join()) fail('batch dimensions differ');
  const ind = indicesOf(idx);
  const tuples: number[][] = [];
  for (let t = 0; t < ind.length; t += k)
    tuples.push(ind.slice(t, t + k).map((i, j) => inRange(i, data.shape[b + j])));
  return tuples;
}

function noDuplicates(keys: Iterable<string>, op: string): void {
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key)) fail(`${op} with reduction none writes position [${key}] twice`);
    seen.add(key);
  }
}

function checkElements(data: Value, idx: Value, axis: number, op: string, unique: boolean): void {
  if (idx.rank !== data.rank) fail('indices must have the rank of the data');
  if (idx.shape.some((d, i) => i !== axis && d > data.shape[i]))
    fail('indices exceed the data along an axis');
  const ind = indicesOf(idx).map((i) => inRange(i, data.shape[axis]));
  if (!unique) return;
  let t = 0;
  const keys: string[] = [];
  for (const p of positions(idx.shape)) {
    p[axis] = ind[t++];
    keys.push(p.join());
  }
  noDuplicates(keys, op);
}

/**
 * Gather's rule: g scatter-added into zeros of x's shape. Per sample (a parameter table
 * gathered before the data: Swin's relative position bias), g is [B, ...y.shape]: the
 * same, into [B, ...x.shape] one axis further on.
 */
const gatherGrad =
  (batched: boolean): GradRule<'Gather'> =>
  ({ x: [x, idx], g, attrs: { axis } }) => {
    const z = zeros(x, batched ? [g.shape[0], ...x.shape] : x.shape);
    return [scatterND(z, gatherAsND(z, idx, axis + Number(batched)), g, 'add'), null];
  };

export const gatherOps = {
  Gather: {
    infer: ([x, idx], { axis }) => {
      for (const i of indicesOf(idx)) inRange(i, x.shape[axis]);
      return { shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)], dtype: x.dtype };
    },
    attrs: { axis: 'int' },
    grad: gatherGrad(false),
    batchedGrad: gatherGrad(true),
  },
  GatherND: {
    infer: ([x, idx], { batch_dims: b }) => {
      checkTuples(x, idx, b);
      const k = idx.shape[idx.rank - 1];
      return { shape: [...idx.shape.slice(0, -1), ...x.shape.slice(b + k)], dtype: x.dtype };
    },
    attrs: { batch_dims: 'int' },
    grad: ({ x: [x, idx], g, attrs: { batch_dims: b } }) => [
      scatterND(zeros(x, x.shape), withBatchCoordinates(idx, b), g, 'add'),
      null,
    ],
  },
  GatherElements: {
    infer: ([x, idx], { axis }) => {
      checkElements(x, idx, axis, 'GatherElements', false);
      return { shape: idx.shape, dtype: x.dtype };
    },
    attrs: { axis: 'int' },
    grad: ({ x: [x, idx], g, attrs: { axis } }) => [
      scatterElements(zeros(x, x.shape), idx, g, axis, 'add'),
      null,
    ],
  },
  ScatterND: {
    infer: ([data, idx, updates], { reduction }) => {
      const tuples = checkTuples(data, idx, 0);
      const want = [...idx.shape.slice(0, -1), ...data.shape.slice(idx.shape[idx.rank - 1])];
      if (updates.shape.join() !== want.join()) fail(`updates must be [${want}], got [${updates.shape}]`);
      if (updates.dtype !== data.dtype) fail('updates and data dtypes differ');
      if (reduction === 'none') noDuplicates(tuples.map(String), 'ScatterND');
      return { shape: data.shape, dtype: data.dtype };
    },
    attrs: { reduction: 'string' },
    // Overwritten positions of data get no cotangent; updates get g gathered where they went.
    grad: ({ x: [, idx, updates], g, attrs: { reduction } }) => [
      reduction === 'add' ? g : scatterND(g, idx, zeros(g, updates.shape)),
      null,
      gatherND(g, idx),
    ],
  },
  ScatterElements: {
    infer: ([data, idx, updates], { axis, reduction }) => {
      if (updates.shape.join() !== idx.shape.join()) fail('updates must have the shape of the indices');
      if (updates.dtype !== data.dtype) fail('updates and data dtypes differ');
      checkElements(data, idx, normAxis(axis, data.rank), 'ScatterElements', reduction === 'none');
      return { shape: data.shape, dtype: data.dtype };
    },
    attrs: { axis: 'int', reduction: 'string' },
    grad: ({ x: [, idx, updates], g, attrs: { axis, reduction } }) => [
      reduction === 'add' ? g : scatterElements(g, idx, zeros(g, updates.shape), axis),
      null,
      gatherElements(g, idx, axis),
    ],
  },
} satisfies Partial<OpTable>;
