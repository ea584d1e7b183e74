/**
 * N-dimensional arithmetic on constants (row-major Float64Arrays), for the shape subgraphs
 * static.ts evaluates at import time: broadcasting, indexing, slicing, concatenation,
 * transposition, scatter. Every function takes and returns a Const; `fail` reports a misuse
 * in the model's terms.
 */
import { sizeOf } from '../../graph/graph.js';
import type { Const, ConstKind } from './decode.js';

export { sizeOf };

export const konst = (data: ArrayLike<number>, shape: readonly number[], kind: ConstKind = 'int'): Const => ({
  data: Float64Array.from(data),
  shape: [...shape],
  kind,
});

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** A possibly negative axis as an index into `rank` axes. */
export const axisOf = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

/** numpy's broadcast shape, or undefined when the shapes do not broadcast. */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] | undefined {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return undefined;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** For each element of `shape`, the flat index of the element of `from` it broadcasts from. */
function broadcastIndex(from: readonly number[], shape: readonly number[]): Int32Array {
  const n = sizeOf(shape);
  const out = new Int32Array(n);
  const lead = shape.length - from.length;
  const fromStrides = stridesOf(from);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    let flat = 0;
    for (let i = lead; i < shape.length; i++)
      if (from[i - lead] !== 1) flat += idx[i] * fromStrides[i - lead];
    out[k] = flat;
    for (let i = shape.length - 1; i >= 0 && ++idx[i] === shape[i]; i--) idx[i] = 0;
  }
  return out;
}

/** Elementwise over broadcast inputs. */
export function mapBroadcast(
  xs: readonly Const[],
  f: (...v: number[]) => number,
  kind: ConstKind,
  fail: (m: string) => never,
): Const {
  let shape: number[] | undefined = xs[0].shape;
  for (const x of xs.slice(1)) shape = shape && broadcastShape(shape, x.shape);
  if (!shape) return fail(`shapes ${xs.map((x) => `[${x.shape}]`).join(', ')} do not broadcast`);
  const n = sizeOf(shape);
  const maps = xs.map((x) => (x.data.length === n ? undefined : broadcastIndex(x.shape, shape)));
  const data = new Float64Array(n);
  const args = new Array<number>(xs.length);
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < xs.length; j++) args[j] = xs[j].data[maps[j] ? maps[j]![k] : k];
    data[k] = f(...args);
  }
  return { data, shape, kind };
}

export const expandTo = (x: Const, shape: readonly number[], fail: (m: string) => never): Const =>
  mapBroadcast([x, konst(new Float64Array(sizeOf(shape)), shape)], (v) => v, x.kind, fail);

/** Iterates over every index tuple of `shape`, calling f with the tuple and its flat index. */
function forEachIndex(shape: readonly number[], f: (idx: readonly number[], flat: number) => void): void {
  const n = sizeOf(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    f(idx, k);
    for (let i = shape.length - 1; i >= 0 && ++idx[i] === shape[i]; i--) idx[i] = 0;
  }
}

export function transposeConst(x: Const, perm: readonly number[]): Const {
  const shape = perm.map((p) => x.shape[p]);
  const strides = stridesOf(x.shape);
  const data = new Float64Array(x.data.length);
  forEachIndex(shape, (idx, k) => {
    let flat = 0;
    for (let i = 0; i < idx.length; i++) flat += idx[i] * strides[perm[i]];
    data[k] = x.data[flat];
  });
  return { data, shape, kind: x.kind };
}

/** ONNX Gather: x indexed along `axis` by every entry of `indices` (negative ones count from the end). */
export function gatherConst(x: Const, indices: Const, axis: number, fail: (m: string) => never): Const {
  const a = axisOf(axis, x.shape.length);
  const dim = x.shape[a];
  const outer = sizeOf(x.shape.slice(0, a));
  const inner = sizeOf(x.shape.slice(a + 1));
  const picks = Array.from(indices.data, (i) => {
    const j = i < 0 ? i + dim : i;
    if (!(j >= 0 && j < dim)) fail(`Gather index ${i} is out of range for a dimension of ${dim}`);
    return j;
  });
  const data = new Float64Array(outer * picks.length * inner);
  let k = 0;
  for (let o = 0; o < outer; o++)
    for (const j of picks) {
      const from = (o * dim + j) * inner;
      for (let i = 0; i < inner; i++) data[k++] = x.data[from + i];
    }
  return { data, shape: [...x.shape.slice(0, a), ...indices.shape, ...x.shape.slice(a + 1)], kind: x.kind };
}

/** ONNX Slice's clamped bounds for one axis of length `dim` (negative steps: start in [0, dim-1], end in [-1, dim-1]). */
export function sliceBounds(start: number, end: number, step: number, dim: number): [number, number] {
  const norm = (v: number) => (v < 0 ? v + dim : v);
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  if (step > 0) return [clamp(norm(start), 0, dim), clamp(norm(end), 0, dim)];
  return [clamp(norm(start), 0, dim - 1), clamp(norm(end), -1, dim - 1)];
}

export function sliceConst(
  x: Const,
  starts: readonly number[],
  ends: readonly number[],
  axes: readonly number[],
  steps: readonly number[],
): Const {
  const rank = x.shape.length;
  const picks = x.shape.map((d) => Array.from({ length: d }, (_, i) => i));
  axes.forEach((axis, j) => {
    const a = axisOf(axis, rank);
    const step = steps[j] ?? 1;
    const [s, e] = sliceBounds(starts[j], ends[j], step, x.shape[a]);
    const list: number[] = [];
    for (let i = s; step > 0 ? i < e : i > e; i += step) list.push(i);
    picks[a] = list;
  });
  const shape = picks.map((p) => p.length);
  const strides = stridesOf(x.shape);
  const data = new Float64Array(sizeOf(shape));
  forEachIndex(shape, (idx, k) => {
    let flat = 0;
    for (let i = 0; i < rank; i++) flat += picks[i][idx[i]] * strides[i];
    data[k] = x.data[flat];
  });
  return { data, shape, kind: x.kind };
}

export function concatConst(xs: readonly Const[], axis: number, fail: (m: string) => never): Const {
  const rank = xs[0].shape.length;
  const a = axisOf(axis, rank);
  for (const x of xs)
    if (x.shape.length !== rank || x.shape.some((d, i) => i !== a && d !== xs[0].shape[i]))
      fail(`Concat of shapes ${xs.map((y) => `[${y.shape}]`).join(', ')} along axis ${axis}`);
  const outer = sizeOf(xs[0].shape.slice(0, a));
  const shape = [...xs[0].shape];
  shape[a] = xs.reduce((s, x) => s + x.shape[a], 0);
  const data = new Float64Array(sizeOf(shape));
  let k = 0;
  for (let o = 0; o < outer; o++)
    for (const x of xs) {
      const block = x.data.length / outer;
      data.set(x.data.subarray(o * block, (o + 1) * block), k);
      k += block;
    }
  const kind = xs.some((x) => x.kind === 'float') ? 'float' : xs[0].kind;
  return { data, shape, kind };
}

/** ONNX ScatterND without reduction: data with the slices at `indices` replaced by `updates`. */
export function scatterNDConst(
  data: Const,
  indices: Const,
  updates: Const,
  fail: (m: string) => never,
): Const {
  const q = indices.shape.length;
  const depth = indices.shape[q - 1];
  const slice = sizeOf(data.shape.slice(depth));
  const strides = stridesOf(data.shape);
  const out = Float64Array.from(data.data);
  const count = sizeOf(indices.shape.slice(0, q - 1));
  if (updates.data.length !== count * slice) fail('ScatterND updates do not match its indices');
  for (let u = 0; u < count; u++) {
    let flat = 0;
    for (let j = 0; j < depth; j++) {
      const d = data.shape[j];
      const i = indices.data[u * depth + j];
      const v = i < 0 ? i + d : i;
      if (!(v >= 0 && v < d)) fail(`ScatterND index ${i} is out of range for a dimension of ${d}`);
      flat += v * strides[j];
    }
    out.set(updates.data.subarray(u * slice, (u + 1) * slice), flat);
  }
  return { data: out, shape: data.shape, kind: data.kind };
}

/** A reduction over `axes` (all when empty), keeping them as 1s when `keep`. */
export function reduceConst(
  x: Const,
  axes: readonly number[],
  keep: boolean,
  init: number,
  f: (acc: number, v: number) => number,
): Const {
  const rank = x.shape.length;
  const ax = axes.length ? axes.map((a) => axisOf(a, rank)) : x.shape.map((_, i) => i);
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const keptStrides = stridesOf(kept);
  const data = new Float64Array(sizeOf(kept)).fill(init);
  forEachIndex(x.shape, (idx, k) => {
    let flat = 0;
    for (let i = 0; i < rank; i++) if (!ax.includes(i)) flat += idx[i] * keptStrides[i];
    data[flat] = f(data[flat], x.data[k]);
  });
  return { data, shape: keep ? kept : x.shape.filter((_, i) => !ax.includes(i)), kind: x.kind };
}

/** ONNX Reshape's target: 0 copies the input's dimension (unless allowzero), -1 is inferred. */
export function reshapeTarget(
  from: readonly number[],
  target: readonly number[],
  allowZero: boolean,
  fail: (m: string) => never,
): number[] {
  const shape = target.map((d, i) => (d === 0 && !allowZero ? from[i] : d));
  const known = sizeOf(shape.filter((d) => d !== -1));
  const total = sizeOf(from);
  const out = shape.map((d) => (d === -1 ? total / known : d));
  if (
    shape.filter((d) => d === -1).length > 1 ||
    sizeOf(out) !== total ||
    out.some((d) => !Number.isInteger(d))
  )
    fail(`cannot reshape [${from.join(', ')}] to [${target.join(', ')}]`);
  return out;
}
