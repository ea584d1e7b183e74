/**
 * Builders of data movement by index (their ops: shape.ts, gather.ts, resize.ts): tiling,
 * splitting, gathers and scatters at constant indices, and resizing. Indices are constants,
 * so that shapes stay static and each scatter's gradient can be checked when it is built
 * (in range; no position written twice where the last write would win).
 */
import { GraphError, type Value } from '../graph/graph.js';
import type { CoordinateTransformationMode, NearestMode, ResizeMode, ScatterReduction } from './attrs.js';
import { emit, slice, transpose } from './builders.js';
import { normAxis, unsupported } from './types.js';

/** A builder misused (not an op's node): a GraphError, as the node checks raise. */
const fail = (message: string): never => {
  throw new GraphError(message);
};

/** Constant indices: an int64 graph constant, or the numbers and their shape. */
export type Indices = Value | { readonly data: readonly number[]; readonly shape: readonly number[] };

/** The indices as an int64 constant of `like`'s graph. */
export function indexConstant(like: Value, indices: Indices): Value {
  if (!('graph' in indices)) return like.graph.constant(indices.data, indices.shape, 'int64');
  if (indices.graph !== like.graph) fail('indices belong to another graph');
  if (indices.dtype !== 'int64' || !indices.data) fail('indices must be an int64 constant');
  return indices;
}

/** x repeated `repeats[i]` times along each axis i (ONNX Tile). */
export function tile(x: Value, repeats: readonly number[]): Value {
  if (repeats.every((r) => r === 1)) return x;
  return emit(x.graph, 'Tile', [x], { repeats });
}

/**
 * x cut along `axis` into consecutive pieces of the given sizes, as Slices (a pss node has
 * one output; ONNX Runtime runs a Slice per piece as fast as one Split).
 */
export function split(x: Value, axis: number, sizes: readonly number[]): Value[] {
  const a = normAxis(axis, x.rank);
  if (sizes.reduce((s, d) => s + d, 0) !== x.shape[a])
    fail(`split sizes [${sizes}] do not add up to ${x.shape[a]}`);
  let start = 0;
  return sizes.map((d) => slice(x, [start], [(start += d)], [a]));
}

/** x indexed along `axis` by every entry of `indices` (numpy's take; ONNX Gather). */
export const gather = (x: Value, indices: Indices, axis = 0) =>
  emit(x.graph, 'Gather', [x, indexConstant(x, indices)], { axis: normAxis(axis, x.rank) });

/** out[i][j] = x[indices[i][j]][j] for axis 0, and so on (torch.gather; ONNX GatherElements). */
export const gatherElements = (x: Value, indices: Indices, axis = 0) =>
  emit(x.graph, 'GatherElements', [x, indexConstant(x, indices)], { axis: normAxis(axis, x.rank) });

/** Slices of x addressed by the index tuples in the last axis of `indices` (ONNX GatherND). */
export const gatherND = (x: Value, indices: Indices, batchDims = 0) =>
  emit(x.graph, 'GatherND', [x, indexConstant(x, indices)], { batch_dims: batchDims });

/** data with the slices addressed by `indices` replaced by (or, with 'add', plus) updates. */
export const scatterND = (
  data: Value,
  indices: Indices,
  updates: Value,
  reduction: ScatterReduction = 'none',
) => emit(data.graph, 'ScatterND', [data, indexConstant(data, indices), updates], { reduction });

/** The inverse pattern of gatherElements: data[indices[i][j]][j] = updates[i][j] for axis 0. */
export const scatterElements = (
  data: Value,
  indices: Indices,
  updates: Value,
  axis = 0,
  reduction: ScatterReduction = 'none',
) =>
  emit(data.graph, 'ScatterElements', [data, indexConstant(data, indices), updates], {
    axis: normAxis(axis, data.rank),
    reduction,
  });

export interface ResizeOptions {
  /** 'nearest' (ONNX's default) or 'linear' (bilinear on H and W). */
  mode?: ResizeMode;
  /** The output size of every axis; or give `scales`. */
  sizes?: readonly number[];
  /** The scale of every axis (output = floor(input * scale)); or give `sizes`. */
  scales?: readonly number[];
  /** How output coordinates map to input ones (default 'half_pixel', as ONNX). */
  coordinateTransformationMode?: CoordinateTransformationMode;
  /** How nearest mode rounds (default 'round_prefer_floor', as ONNX). */
  nearestMode?: NearestMode;
}

const MODES: readonly string[] = ['nearest', 'linear'];
const COORDINATES: readonly string[] = [
  'half_pixel',
  'pytorch_half_pixel',
  'align_corners',
  'asymmetric',
  'tf_half_pixel_for_nn',
];
const ROUNDINGS: readonly string[] = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];

/**
 * ONNX Resize of up to two axes (the other scales 1); axes other than the last two are
 * transposed there and back. Options outside the types
 * (ONNX strings read from a file) are refused as UnsupportedOpErrors naming them: cubic mode,
 * tf_crop_and_resize and others.
 */
export function resize(x: Value, o: ResizeOptions): Value {
  const mode = o.mode ?? 'nearest';
  const ctm = o.coordinateTransformationMode ?? 'half_pixel';
  const nearest = o.nearestMode ?? 'round_prefer_floor';
  if (!MODES.includes(mode)) unsupported('Resize', `mode ${mode}`);
  if (!COORDINATES.includes(ctm)) unsupported('Resize', `coordinate_transformation_mode ${ctm}`);
  if (!ROUNDINGS.includes(nearest)) unsupported('Resize', `nearest_mode ${nearest}`);
  if ((o.sizes === undefined) === (o.scales === undefined)) fail('Resize takes either sizes or scales');
  const given = o.sizes ?? o.scales!;
  if (given.length !== x.rank)
    fail(`Resize needs ${x.rank} ${o.sizes ? 'sizes' : 'scales'}, got ${given.length}`);
  if (given.some((v) => !(v > 0))) fail('Resize sizes and scales must be positive');
  const resized = given.flatMap((v, i) => ((o.sizes ? v !== x.shape[i] : v !== 1) ? [i] : []));
  if (resized.length > 2) unsupported('Resize', `resizing ${resized.length} axes`);
  if (resized.some((i) => i < x.rank - 2)) {
    // Other axes (NHWC's H and W, as tf2onnx may write): moved last, resized, moved back.
    const perm = [...x.shape.map((_, i) => i).filter((i) => !resized.includes(i)), ...resized];
    const moved = perm.map((i) => given[i]);
    const y = resize(transpose(x, perm), { ...o, ...(o.sizes ? { sizes: moved } : { scales: moved }) });
    return transpose(
      y,
      perm.map((_, i) => perm.indexOf(i)),
    );
  }
  return emit(x.graph, 'Resize', [x], {
    mode,
    coordinate_transformation_mode: ctm,
    nearest_mode: nearest,
    ...(o.sizes ? { sizes: o.sizes } : { scales: o.scales }),
  });
}
