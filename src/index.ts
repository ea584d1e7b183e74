/** pss — parameter-space saliency on ONNX Runtime. The public API. */
export { type GradOptions, grad } from './autodiff/grad.js';
export { PssError } from './errors.js';
export { Graph, GraphError, type Shape, type Value } from './graph/graph.js';
export { toOnnxModel } from './graph/onnx.js';
export { type NpyArray, parseNpy, serializeNpy } from './io/npy.js';
export type { Architecture, Preprocessing } from './models/architecture.js';
export { deterministicInput, deterministicParameter } from './models/deterministic.js';
export { type ConvLayer, Model } from './models/model.js';
export type { ParamSpec } from './models/nn.js';
export { parseSafeTensors, serializeSafeTensors } from './models/safetensors.js';
export { loadWeights } from './models/weights.js';
export { ARCHITECTURES, architecture } from './models/zoo.js';
export * as ops from './ops/index.js';
export { type Device, Runner } from './runtime/session.js';
export { AGGREGATIONS, type Aggregation, DEFAULT_AGGREGATION } from './saliency/aggregation.js';
export {
  argmax,
  type ImageBatch,
  SaliencyEngine,
  type SaliencyOptions,
  type SaliencyResult,
} from './saliency/engine.js';
export { buildForward, buildSaliencyGraph, crossEntropy } from './saliency/graph.js';
export { locate, type RankBy, type RankedFilter, topFilters } from './saliency/rank.js';
