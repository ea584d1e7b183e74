/** pss — parameter-space saliency on ONNX Runtime. The public API. */

// Reverse-mode autodiff over pss graphs (differentiable again)
export { type GradOptions, grad } from './autodiff/grad.js';
// Labelled datasets: folders, CSV/JSONL lists, IDX files
export type { Dataset, Sample } from './data/dataset.js';
export { openDataset } from './data/open.js';
// Errors a user can fix (one line each)
export { PssError } from './errors.js';
// Figures: heatmaps, the filter-saliency chart, Grad-CAM panels, the HTML report
export * as figures from './figures/index.js';
// Graphs and their ONNX form
export { Graph, GraphError, type Shape, type Value } from './graph/graph.js';
export { type ConstantPlacement, type OnnxParts, toOnnxModel, toOnnxParts } from './graph/onnx.js';
// Images: decoding and torchvision's preprocessing
export { classNamesFor, IMAGENET_CLASSES, loadImage, preprocess, resolveLabel } from './image/index.js';
export { loadInput } from './image/input.js';
// File formats: .npy, PyTorch checkpoints, safetensors
export { type NpyArray, parseNpy, serializeNpy } from './io/npy.js';
export { readCheckpoint, stateDictTensors } from './io/pth.js';
export { parseSafeTensors, serializeSafeTensors } from './io/safetensors.js';
// Jobs over datasets
export { type CollectOptions, collectStats } from './jobs/collect-stats.js';
// Models, weights and their downloads
export type { Architecture, Preprocessing } from './models/architecture.js';
export { deterministicInput, deterministicParameter } from './models/deterministic.js';
export {
  type DownloadProgress,
  parseWeightsSpec,
  type ResolveOptions,
  resolveWeights,
} from './models/download/index.js';
export { bundledExamples, type Example } from './models/examples.js';
export { DEFAULT_MODEL, loadModel, type ModelSpec } from './models/load.js';
export { Model, type ModelInfo } from './models/model.js';
export type { ParamSpec } from './models/nn.js';
export { importOnnx, onnxModel } from './models/onnx-import.js';
export {
  DEFAULT_UNIT_SET,
  describeUnitCounts,
  isUnitSet,
  UNIT_SETS,
  type UnitKind,
  type UnitLayer,
  type UnitSet,
} from './models/units.js';
export { loadWeights } from './models/weights.js';
export { ARCHITECTURES, architecture } from './models/zoo.js';
// Op builders and the op table (new Graph(ops.OPS))
export * as ops from './ops/index.js';
// ONNX Runtime
export { type Device, Runner, type SessionOptions, type WeightPlacement } from './runtime/session.js';
// Saliency
export { AGGREGATIONS, type Aggregation, DEFAULT_AGGREGATION } from './saliency/aggregation.js';
export {
  argmax,
  type ImageBatch,
  SaliencyEngine,
  type SaliencyOptions,
  type SaliencyResult,
} from './saliency/engine.js';
export { EXPLAIN_DEFAULTS, type ExplainOptions, type ExplainResult, explain } from './saliency/explain.js';
export { fitGpd, type GpdFit, gpdLogLik } from './saliency/gpd.js';
export { buildForward, buildSaliencyGraph, crossEntropy } from './saliency/graph.js';
export {
  DEFAULT_POT_QUANTILE,
  fitPot,
  type PotModel,
  potLogP,
  potProfile,
  potRanking,
  potScore,
  type TailsLike,
} from './saliency/pot.js';
export { type RankBy, type RankedFilter, topFilters, topK } from './saliency/rank.js';
export { type SaliencyReport, saliencyReport } from './saliency/report.js';
export {
  profileOf,
  type Reference,
  SIGMA_FLOOR,
  type Standardization,
  standardize,
} from './saliency/standardize.js';
export { DEFAULT_TARGET, parseTarget, type Target, targetText } from './saliency/target.js';
export {
  type LayerSpan,
  layerSpans,
  locate,
  parseUnits,
  type Unit,
  unitIndex,
  unitsOffMask,
} from './saliency/units.js';
// Statistics
export { authorsStats, readAnyStats } from './stats/authors.js';
export { checkStatsFor } from './stats/check.js';
export { readStats, type Statistics, writeStats } from './stats/file.js';
export { mergeStats } from './stats/merge.js';
export { type ResolvedStats, resolveStats } from './stats/resolve.js';
export {
  mergeTails,
  potModelOf,
  TailKeeper,
  type Tails,
  tailCapacity,
  withStandardization,
} from './stats/tails.js';
export { RunningStats } from './stats/welford.js';
