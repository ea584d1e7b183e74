/**
 * Downloads of weights, one job per file: what `--weights` names (spec.ts), where a download
 * lives and who may write it (cache.ts), the bytes over HTTP (transfer.ts), whether they are
 * the file asked for (integrity.ts), and the whole, as `resolveWeights` (resolve.ts).
 */
export { cachedPath, cacheFileName, cacheRoot } from './cache.js';
export { announcedSha256 } from './integrity.js';
export {
  type DownloadProgress,
  type FetchOptions,
  fetchToCache,
  type ResolveOptions,
  resolveWeights,
} from './resolve.js';
export {
  DEFAULT_HF_ENDPOINT,
  hasTorchvisionHubWeights,
  hubEndpoint,
  parseWeightsSpec,
  type WeightsSpec,
} from './spec.js';
