/**
 * One small hand-built ONNX classifier checked end to end: the logits pss gives equal those
 * ONNX Runtime gives running the same file, its saliency is not all zero, and the gradients of
 * the imported graph in the image and every parameter pass finite-difference checks to
 * second order. Shared by the operator suites (onnx-layouts, onnx-operators).
 */
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import type { Value } from '../../src/graph/graph.js';
import { hashUniform } from '../../src/models/deterministic.js';
import { Net } from '../../src/models/nn.js';
import { importOnnx } from '../../src/models/onnx/import.js';
import { onnxModel } from '../../src/models/onnx-import.js';
import * as op from '../../src/ops/index.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { maxRelDiff } from './fixtures.js';
import { checkGrads } from './gradcheck.js';
import { hashedTensor, type Node, onnxBytes } from './onnx.js';
import { rng } from './random.js';

export interface OnnxCase {
  name: string;
  nodes: Node[];
  constants?: Record<string, number[]>;
  /** The file's opset (default 17). */
  opset?: number;
}

/** The case as a file: input x [1, 3, 8, 8], output y [1, classes]. */
export const caseBytes = (c: OnnxCase) =>
  onnxBytes({
    opset: c.opset ?? 17,
    nodes: c.nodes,
    constants: c.constants,
    deterministic: hashedTensor,
    outputs: [{ name: 'y', dims: [1, 'classes'] }],
  });
export const CASE_SHAPE = [1, 3, 8, 8] as const;
export const CASE_IMAGE = Float32Array.from({ length: 3 * 64 }, (_, i) => 2 * hashUniform('layout-input', i));

export async function ortLogits(bytes: Uint8Array, x: Float32Array): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ x: new ort.Tensor('float32', x, [...CASE_SHAPE]) });
    return out.y.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** The imported graph as a function of the image and every parameter (graph inputs), for checkGrads. */
function replayed(bytes: Uint8Array) {
  const { arch, weights } = importOnnx(bytes, 'case.onnx');
  const declared = new Net();
  arch.define(declared, arch.defaultClasses);
  const params = declared.params;
  const cube = (v: Value) => op.mul(v, op.mul(v, v));
  return {
    inputs: params.map((p) => ({ shape: p.shape, data: weights.get(p.name)! })),
    f: ([x, ...ps]: Value[]) => {
      const net = new Net({ graph: x.graph, param: (p) => ps[params.findIndex((q) => q.name === p.name)] });
      return cube(arch.define(net, arch.defaultClasses)(x));
    },
  };
}

export async function checkCase(c: OnnxCase) {
  const bytes = caseBytes(c);
  const model = onnxModel(bytes, 'case.onnx');
  await using engine = new SaliencyEngine(model);
  const [r] = await engine.compute({ data: CASE_IMAGE, shape: CASE_SHAPE }, [1]);
  const ref = await ortLogits(bytes, CASE_IMAGE);
  assert.equal(r.logits.length, ref.length);
  const rel = maxRelDiff(r.logits, ref);
  // both float32; the same ops in another order differ by a few roundings
  assert.ok(rel < 1e-5, `${c.name}: logits against ONNX Runtime: max rel diff ${rel}`);
  assert.ok(r.saliency.some((v) => v > 0));
  const { inputs, f } = replayed(bytes);
  // Inputs at least 0.05 apart, so that the step changes no max's choice of window entry. The
  // step moves every weight and input at once, through a conv and a cube: 1e-3 keeps the
  // central difference's truncation error (eps² f''') under the tolerance.
  const x = { shape: CASE_SHAPE, data: rng(7).distinct(3 * 64, 0.05) };
  await checkGrads({ name: c.name, inputs: [x, ...inputs], f, eps: 1e-3 });
  return { model, rel };
}
