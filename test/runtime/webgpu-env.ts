/**
 * Where the WebGPU tests run: on the adapter the environment names, else on SwiftShader, the
 * software Vulkan driver of Debian's chromium package (CI installs it), else nowhere — the
 * suites skip, saying why.
 */
import { existsSync } from 'node:fs';
import { Graph, type Value } from '../../src/graph/graph.js';
import type { GraphOutput } from '../../src/graph/onnx.js';
import { OPS } from '../../src/ops/index.js';
import { type Device, Runner } from '../../src/runtime/session.js';
import { checkWebGpu } from '../../src/runtime/webgpu.js';

export const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** undefined when WebGPU can run here; otherwise the reason to skip. */
export function webgpuSkipReason(): string | undefined {
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(SWIFTSHADER))
    process.env.VK_ICD_FILENAMES = SWIFTSHADER;
  try {
    checkWebGpu();
    return undefined;
  } catch (e) {
    return `no WebGPU adapter here (apt-get install chromium gives SwiftShader, ${SWIFTSHADER}): ${(e as Error).message}`;
  }
}

/** Builds a graph over inputs of the given shapes and runs it once, on one device. */
export async function runGraph(
  shapes: readonly (readonly number[])[],
  build: (g: Graph, inputs: Value[]) => Value | GraphOutput[],
  feeds: Float32Array[],
  device: Device,
  rawWebGpu = false,
): Promise<Record<string, Float32Array>> {
  const g = new Graph(OPS);
  const built = build(
    g,
    shapes.map((s, i) => g.input(`x${i}`, s)),
  );
  const outputs = Array.isArray(built) ? built : [{ name: 'y', value: built }];
  const runner = await Runner.create(outputs, { device, rawWebGpu });
  try {
    const out = await runner.run(Object.fromEntries(feeds.map((f, i) => [`x${i}`, f])));
    return out as Record<string, Float32Array>;
  } finally {
    await runner.release();
  }
}
