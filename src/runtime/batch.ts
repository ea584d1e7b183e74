/**
 * Images per ONNX Runtime run when the user gives no --batch. On the CPU, ONNX Runtime runs a
 * batch's images one after another inside each conv, so a batch only saves per-run overhead and
 * costs memory: the CPU keeps each command's small measured default. On a GPU the batch is what
 * fills the device (PyTorch's per-sample ResNet-50 saliency on an H200 peaks at batch 128,
 * ../shared/GPU.md), and every run pays a round trip over the bus: there it is as many images as
 * a ResNet-50-sized graph at 224x224 is expected to fit in a few GB of GPU memory, scaled down
 * for larger inputs. scripts/gpu/bench.mjs measures throughput per batch to check the choice.
 */
import type { Device } from './session.js';

export type BatchJob =
  /** per-sample filter saliency (pss stats, the saliency runs of prune) */
  | 'saliency'
  /** per-sample gradients of every parameter (stats --aggregation parameter): model-sized rows */
  | 'parameter'
  /** the second-order explain graph, one row per noise iteration */
  | 'explain';

/** GPU batch at 224x224 per job. Second-order rows hold about three first-order graphs. */
const GPU_AT_224: Record<BatchJob, number> = { saliency: 32, parameter: 2, explain: 8 };
const MAX_GPU_BATCH = 128;

/**
 * The default batch for `job` on `device`: `cpu` (the command's CPU default) on the CPU; on a
 * GPU the job's batch at 224x224, scaled by 224² / (h·w) for a model input [C, H, W] (its
 * arch.inputShape), between 1 and 128.
 */
export function defaultBatch(
  job: BatchJob,
  device: string | undefined,
  cpu: number,
  inputShape: readonly number[] = [3, 224, 224],
): number {
  if ((device as Device | undefined) !== 'webgpu') return cpu;
  const [, h, w] = inputShape;
  const scaled = Math.floor((GPU_AT_224[job] * 224 * 224) / Math.max(1, h * w));
  return Math.min(MAX_GPU_BATCH, Math.max(1, scaled));
}
