/**
 * The two ONNX Runtime WebGPU kernel bugs pss works around (src/runtime/webgpu-forms.ts), each
 * in a minimal graph run on the CPU and on WebGPU (SwiftShader in CI): the provider's own
 * answer is wrong, the rewritten graph's is the CPU's. Both are in ONNX Runtime's shader code
 * (1.30), not in SwiftShader: the cases the rewrite leaves alone agree on the same driver.
 * When an ONNX Runtime upgrade fixes a kernel, its "still wrong" test fails: drop that rewrite.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Graph, Value } from '../../src/graph/graph.js';
import * as op from '../../src/ops/index.js';
import { convPadding, convTransposePadding } from '../../src/runtime/webgpu-forms.js';
import { cosine, maxRelDiff } from '../helpers/fixtures.js';
import { rng } from '../helpers/random.js';
import { runGraph, webgpuSkipReason } from './webgpu-env.js';

const skip = webgpuSkipReason();
const r = rng(17);
const data = (shape: readonly number[]) => Float32Array.from(r.normal(shape.reduce((a, b) => a * b, 1)));

/** float32 against float32 in another summation order: far below any real error. */
const SAME = 1e-5;

interface Case {
  name: string;
  shapes: number[][];
  build: (g: Graph, x: Value[]) => Value;
  /** Whether webgpu-forms.ts rewrites it. */
  rewritten: boolean;
}

async function compare(c: Case, rawWebGpu: boolean) {
  const feeds = c.shapes.map(data);
  const cpu = await runGraph(c.shapes, c.build, feeds, 'cpu');
  const gpu = await runGraph(c.shapes, c.build, feeds, 'webgpu', rawWebGpu);
  return { cos: cosine(gpu.y, cpu.y), rel: maxRelDiff(gpu.y, cpu.y) };
}

const conv = (m: number, group: number, cin: number, o: op.ConvOptions = {}): Case => ({
  name: `Conv ${cin} -> ${m} channels in ${group} groups`,
  shapes: [
    [1, cin, 8, 8],
    [m, cin / group, 3, 3],
  ],
  build: (_, [x, w]) => op.conv(x, w, undefined, { pads: [1, 1, 1, 1], ...o, group }),
  rewritten: convPadding(m, group) !== undefined,
});
const convT = (cin: number, outPerGroup: number, group: number): Case => ({
  name: `ConvTranspose ${cin} -> ${outPerGroup * group} channels in ${group} groups, stride 2`,
  shapes: [
    [1, cin, 7, 7],
    [cin, outPerGroup, 2, 2],
  ],
  build: (_, [x, w]) => op.convTranspose(x, w, undefined, { strides: [2, 2], group }),
  rewritten: convTransposePadding(cin, outPerGroup, group) !== undefined,
});

describe('ONNX Runtime WebGPU kernels against the CPU, in minimal graphs', { skip }, () => {
  const bugs: Case[] = [
    // 9 output channels per group, vectors of 4: TinyCNN's 3x3 patch extraction (im2col).
    conv(36, 4, 4, { dilations: [2, 2], pads: [2, 2, 2, 2] }),
    // 9 per group in vectors of 2 (18 channels).
    conv(18, 2, 2),
    // 4 input channels and 1 output channel per group: the adjoint of 2x2 patch extraction
    // (MaxPool's rule on the embedded model).
    convT(32, 1, 8),
    // 6 input channels per group, vectors of 2.
    convT(48, 1, 8),
  ];
  for (const c of bugs) {
    it(`${c.name}: the provider's kernel is wrong (ONNX Runtime 1.30)`, async () => {
      assert.ok(c.rewritten);
      const { cos } = await compare(c, true);
      assert.ok(cos < 0.99, `cosine ${cos}: the kernel is right now; drop its rewrite in webgpu-forms.ts`);
    });
    it(`${c.name}: rewritten, the CPU's numbers`, async () => {
      const { cos, rel } = await compare(c, false);
      assert.ok(cos > 1 - 1e-9 && rel < SAME, `cosine ${cos}, max rel diff ${rel}`);
    });
  }

  // Neighbouring shapes the rewrite leaves alone: right as they are, on the same driver.
  const fine: Case[] = [
    conv(16, 4, 4), // 4 per group
    conv(32, 4, 8), // 8 per group
    conv(12, 4, 4), // 3 per group
    conv(32, 32, 32, { dilations: [2, 2], pads: [2, 2, 2, 2] }), // depthwise, dilated
    conv(9, 1, 2), // one group
    convT(4, 1, 1),
    convT(8, 1, 8),
    convT(32, 4, 8),
    convT(40, 1, 8), // 5 input channels per group: scalar reads
    convT(288, 1, 32), // 9 per group: the adjoint of 3x3 patch extraction (TinyCNN's MaxPool)
  ];
  for (const c of fine)
    it(`${c.name}: right without a rewrite`, async () => {
      assert.ok(!c.rewritten);
      const { cos, rel } = await compare(c, true);
      assert.ok(cos > 1 - 1e-9 && rel < SAME, `cosine ${cos}, max rel diff ${rel}`);
    });
});
