/**
 * Replay rules of data movement and indexing: reshapes, transposes, slices, pads, concats,
 * splits, tiles, expands, gathers and scatters at constant indices, resizing, depth to space and
 * back. Their shapes, axes and indices must be constants (evaluated by static.ts where the file
 * computes them).
 */
import type { Value } from '../../graph/graph.js';
import * as op from '../../ops/index.js';
import type { Const } from './decode.js';
import { int, ints, string } from './decode.js';
import { optionalList, type ReplayContext, type ReplayRules } from './rule.js';
import { evenSplit, squeezed, unsqueezed } from './static.js';
import { reshapeTarget, sliceBounds } from './tensor.js';

const clampIndex = (v: number) => Math.max(-(2 ** 31), Math.min(2 ** 31, v));

/** Constant indices with negative entries counted from the end of a dimension of `dim`. */
function indices(c: ReplayContext, k: number, dim: (i: number) => number, what: string) {
  const t: Const = c.konst(k) ?? c.fail(`${what} must be constants`);
  const depth = t.shape[t.shape.length - 1] ?? 1;
  const data = Array.from(t.data, (v, i) => (v < 0 ? v + dim(i % depth) : v));
  return { data, shape: t.shape };
}

/** Pads on every axis ([begins..., ends...]) from the pads input and its optional axes (opset 18). */
function padsOf(c: ReplayContext, rank: number): number[] {
  const given = c.constant(1, 'Pad pads');
  const axes = optionalList(c, 3, 'Pad axes');
  if (!axes) return given;
  const pads = new Array<number>(2 * rank).fill(0);
  axes.forEach((a, i) => {
    const axis = a < 0 ? a + rank : a;
    pads[axis] = given[i];
    pads[axis + rank] = given[i + axes.length];
  });
  return pads;
}

/** Edge or reflect padding of one axis, from slices of x. */
function borderPad(x: Value, axis: number, before: number, after: number, mode: string): Value {
  const n = x.shape[axis];
  const at = (i: number) => op.slice(x, [i], [i + 1], [axis]);
  const side = (count: number, index: (j: number) => number) =>
    Array.from({ length: count }, (_, j) => at(index(j)));
  const reflect = mode === 'reflect';
  // reflect mirrors without repeating the border; edge repeats it
  const head = side(before, (j) => (reflect ? before - j : 0));
  const tail = side(after, (j) => (reflect ? n - 2 - j : n - 1));
  return op.concat([...head, x, ...tail], axis);
}

function padRule(c: ReplayContext): Value {
  let x = c.value(0);
  const rank = x.rank;
  const pads = padsOf(c, rank);
  const mode = string(c.node, 'mode', 'constant');
  const value = c.has(2) ? (c.konst(2)?.data[0] ?? c.fail('Pad constant_value must be a constant')) : 0;
  // negative pads crop
  const crop = pads.map((p) => Math.min(p, 0));
  if (crop.some((p) => p < 0))
    x = op.slice(
      x,
      x.shape.map((_, i) => -crop[i]),
      x.shape.map((d, i) => d + crop[i + rank]),
    );
  const grow = pads.map((p) => Math.max(p, 0));
  if (mode === 'constant') {
    const padded = op.pad(x, grow);
    if (value === 0 || padded === x) return padded;
    // value where the padding is: padded + value * (1 - pad(ones))
    const ones = x.graph.constant(new Float32Array(x.size).fill(1), x.shape, x.dtype);
    return op.add(padded, op.mul(op.sub(1, op.pad(ones, grow)), value));
  }
  if (mode !== 'edge' && mode !== 'reflect') c.fail(`Pad mode ${mode} is not supported`);
  for (let axis = 0; axis < rank; axis++) {
    const [before, after] = [grow[axis], grow[axis + rank]];
    if (mode === 'reflect' && (before >= x.shape[axis] || after >= x.shape[axis]))
      c.fail(`reflect padding of ${Math.max(before, after)} on an axis of ${x.shape[axis]}`);
    if (before || after) x = borderPad(x, axis, before, after, mode);
  }
  return x;
}

/** A scatter's reduction: none or add (pss differentiates no other). */
function scatterReduction(c: ReplayContext, what: string): 'none' | 'add' {
  const reduction = string(c.node, 'reduction', 'none');
  if (reduction !== 'none' && reduction !== 'add')
    c.fail(`${what} with reduction ${reduction} is not supported`);
  return reduction;
}

function resizeRule(c: ReplayContext): Value {
  const n = c.node;
  const x = c.value(0);
  if (int(n, 'antialias', 0)) c.fail('Resize with antialias is not supported');
  if (int(n, 'exclude_outside', 0)) c.fail('Resize with exclude_outside is not supported');
  const policy = string(n, 'keep_aspect_ratio_policy', 'stretch');
  if (policy !== 'stretch') c.fail(`Resize keep_aspect_ratio_policy ${policy} is not supported`);
  const axes = ints(n, 'axes')?.map((a) => (a < 0 ? a + x.rank : a));
  const full = (given: number[], fill: (i: number) => number) =>
    axes ? x.shape.map((_, i) => (axes.includes(i) ? given[axes.indexOf(i)] : fill(i))) : given;
  const sizes = optionalList(c, 3, 'Resize sizes');
  const scales = sizes ? undefined : optionalList(c, 2, 'Resize scales');
  if (!sizes && !scales) c.fail('Resize has neither scales nor sizes');
  const mode = string(n, 'mode', 'nearest');
  return op.resize(x, {
    mode: mode as op.ResizeOptions['mode'],
    ...(sizes
      ? { sizes: full(sizes, (i) => x.shape[i]) }
      : { scales: full(scales!.map(Math.fround), () => 1) }),
    coordinateTransformationMode: string(
      n,
      'coordinate_transformation_mode',
      'half_pixel',
    ) as op.ResizeOptions['coordinateTransformationMode'],
    nearestMode: string(n, 'nearest_mode', 'round_prefer_floor') as op.ResizeOptions['nearestMode'],
  });
}

/** The blocksize of DepthToSpace / SpaceToDepth on x [N, C, H, W]. */
function blocksize(c: ReplayContext, x: Value): number {
  const bs = int(c.node, 'blocksize', 0);
  if (bs < 1) c.fail(`${c.node.opType} needs a positive blocksize`);
  if (x.rank !== 4) c.fail(`${c.node.opType} needs an input of rank 4; it is [${x.shape}]`);
  return bs;
}

/**
 * DepthToSpace as the ONNX spec writes it: channels split into (bs, bs, C/bs²) for DCR (torch's
 * pixel_shuffle is CRD: (C/bs², bs, bs)), the blocks moved beside H and W.
 */
function depthToSpace(c: ReplayContext): Value {
  const x = c.value(0);
  const bs = blocksize(c, x);
  const [n, ch, h, w] = x.shape;
  if (ch % (bs * bs)) c.fail(`DepthToSpace of ${ch} channels in blocks of ${bs}x${bs}`);
  const mode = string(c.node, 'mode', 'DCR');
  if (mode !== 'DCR' && mode !== 'CRD') c.fail(`DepthToSpace mode ${mode} is not supported`);
  const out = ch / (bs * bs);
  const dcr = mode === 'DCR';
  const split = dcr ? [n, bs, bs, out, h, w] : [n, out, bs, bs, h, w];
  const perm = dcr ? [0, 3, 4, 1, 5, 2] : [0, 1, 4, 2, 5, 3];
  return op.reshape(op.transpose(op.reshape(x, split), perm), [n, out, h * bs, w * bs]);
}

/** SpaceToDepth, DepthToSpace's inverse in DCR mode. */
function spaceToDepth(c: ReplayContext): Value {
  const x = c.value(0);
  const bs = blocksize(c, x);
  const [n, ch, h, w] = x.shape;
  if (h % bs || w % bs) c.fail(`SpaceToDepth of ${h}x${w} in blocks of ${bs}x${bs}`);
  const blocks = op.reshape(x, [n, ch, h / bs, bs, w / bs, bs]);
  return op.reshape(op.transpose(blocks, [0, 3, 5, 1, 2, 4]), [n, ch * bs * bs, h / bs, w / bs]);
}

export const MOVEMENT_RULES: ReplayRules = {
  Identity: (c) => c.value(0),
  Flatten: (c) => op.flatten(c.value(0), int(c.node, 'axis', 1)),
  Reshape: (c) => {
    const x = c.value(0);
    const target = c.constant(1, 'Reshape shape');
    return op.reshape(x, reshapeTarget(x.shape, target, int(c.node, 'allowzero', 0) === 1, c.fail));
  },
  Squeeze: (c) => {
    const x = c.value(0);
    return op.reshape(x, squeezed(x.shape, optionalList(c, 1, 'Squeeze axes') ?? []));
  },
  Unsqueeze: (c) => {
    const x = c.value(0);
    return op.reshape(x, unsqueezed(x.shape, c.constant(1, 'Unsqueeze axes')));
  },
  Concat: (c) => {
    // empty inputs (shape [0]) contribute nothing
    const xs = c.values().filter((v) => v.size > 0 || v.rank > 1);
    return op.concat(xs, int(c.node, 'axis', 0));
  },
  Transpose: (c) => {
    const x = c.value(0);
    return op.transpose(x, ints(c.node, 'perm') ?? x.shape.map((_, i) => x.rank - 1 - i));
  },
  Pad: padRule,
  Slice: (c) => {
    const x = c.value(0);
    const [starts, ends] = [c.constant(1, 'Slice starts'), c.constant(2, 'Slice ends')];
    const axes = optionalList(c, 3, 'Slice axes') ?? starts.map((_, i) => i);
    const steps = optionalList(c, 4, 'Slice steps');
    if (steps?.some((s) => s !== 1)) {
      // a negative or longer step: one Gather of the picked positions per axis
      let y = x;
      axes.forEach((axis, j) => {
        const a = axis < 0 ? axis + x.rank : axis;
        const picks = stepped(starts[j], ends[j], steps[j], x.shape[a]);
        y = op.gather(y, { data: picks, shape: [picks.length] }, a);
      });
      return y;
    }
    return op.slice(x, starts.map(clampIndex), ends.map(clampIndex), axes);
  },
  Expand: (c) => {
    const x = c.value(0);
    const target = c.constant(1, 'Expand shape');
    // a 1 in the target keeps the input's dimension (Expand broadcasts both ways)
    const rank = Math.max(x.rank, target.length);
    const shape = Array.from({ length: rank }, (_, i) => {
      const a = x.shape[x.rank - rank + i] ?? 1;
      const b = target[target.length - rank + i] ?? 1;
      return b === 1 ? a : b;
    });
    const lifted = x.rank < rank ? op.reshape(x, [...new Array(rank - x.rank).fill(1), ...x.shape]) : x;
    return op.expand(lifted, shape);
  },
  Tile: (c) => op.tile(c.value(0), c.constant(1, 'Tile repeats')),
  Split: (c) => {
    const x = c.value(0);
    const axis = int(c.node, 'axis', 0);
    const a = axis < 0 ? axis + x.rank : axis;
    const outputs = (c.node.output ?? []).length;
    const sizes =
      optionalList(c, 1, 'Split sizes') ?? evenSplit(x.shape[a], int(c.node, 'num_outputs', outputs));
    return op.split(x, a, sizes);
  },
  Gather: (c) => {
    const x = c.value(0);
    const axis = int(c.node, 'axis', 0);
    const a = axis < 0 ? axis + x.rank : axis;
    return op.gather(
      x,
      indices(c, 1, () => x.shape[a], 'Gather indices'),
      a,
    );
  },
  GatherElements: (c) => {
    const x = c.value(0);
    const axis = int(c.node, 'axis', 0);
    const a = axis < 0 ? axis + x.rank : axis;
    return op.gatherElements(
      x,
      indices(c, 1, () => x.shape[a], 'GatherElements indices'),
      a,
    );
  },
  GatherND: (c) => {
    const x = c.value(0);
    const b = int(c.node, 'batch_dims', 0);
    return op.gatherND(
      x,
      indices(c, 1, (i) => x.shape[b + i], 'GatherND indices'),
      b,
    );
  },
  ScatterND: (c) => {
    const x = c.value(0);
    const reduction = scatterReduction(c, 'ScatterND');
    return op.scatterND(
      x,
      indices(c, 1, (i) => x.shape[i], 'ScatterND indices'),
      c.value(2),
      reduction,
    );
  },
  ScatterElements: (c) => {
    const x = c.value(0);
    const axis = int(c.node, 'axis', 0);
    const a = axis < 0 ? axis + x.rank : axis;
    const reduction = scatterReduction(c, 'ScatterElements');
    const idx = indices(c, 1, () => x.shape[a], 'ScatterElements indices');
    return op.scatterElements(x, idx, c.value(2), a, reduction);
  },
  Resize: resizeRule,
  DepthToSpace: depthToSpace,
  SpaceToDepth: spaceToDepth,
};

/** The positions a Slice with step `step` picks on an axis of `dim` (ONNX's clamping). */
function stepped(start: number, end: number, step: number, dim: number): number[] {
  const [s, e] = sliceBounds(start, end, step, dim);
  const out: number[] = [];
  for (let i = s; step > 0 ? i < e : i > e; i += step) out.push(i);
  return out;
}
