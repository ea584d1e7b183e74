/** Rebuilds the weights of the weightless ONNX skeletons made by scripts/reference/strip-onnx.ts. */
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { deterministicParameter } from '../../src/models/deterministic.js';

/** The float32 values for an initializer recipe ("param:NAME", "fold-weight:CONV:BN", "fold-bias:CONV:BN"). */
export function rebuildInitializer(recipe: string, dims: number[]): Float32Array {
  const [kind, a, b] = recipe.split(':');
  if (kind === 'param') return deterministicParameter(a, dims);
  const out = dims[0];
  const bn = (k: string) => deterministicParameter(`${b}.${k}`, [out]);
  const [gamma, beta, mean, variance] = ['weight', 'bias', 'running_mean', 'running_var'].map(bn);
  const scale = Float64Array.from(gamma, (g, i) => g / Math.sqrt(variance[i] + 1e-5));
  if (kind === 'fold-bias') return Float32Array.from(beta, (be, i) => be - mean[i] * scale[i]);
  const w = deterministicParameter(`${a}.weight`, dims);
  const per = w.length / out;
  return w.map((v, i) => v * scale[Math.floor(i / per)]);
}

/** Reads a skeleton and returns full ONNX bytes. */
export function loadSkeleton(path: string): Uint8Array {
  const model = onnxProto.onnx.ModelProto.decode(readFileSync(path));
  for (const t of model.graph!.initializer!) {
    const data = rebuildInitializer(t.docString!, t.dims!.map(Number));
    t.rawData = new Uint8Array(data.buffer);
  }
  return onnxProto.onnx.ModelProto.encode(model).finish();
}

/** A well-formed ONNX classifier file (input [1,3,8,8], output [1,10]) chaining the given op types. */
export function tinyOnnx(ops: readonly string[]): Uint8Array {
  const { onnx } = onnxProto;
  const vi = (name: string, dims: number[]) => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'g',
      node: ops.map((opType, i) => ({
        opType,
        input: [i ? `t${i}` : 'x'],
        output: [i === ops.length - 1 ? 'y' : `t${i + 1}`],
      })),
      input: [vi('x', [1, 3, 8, 8])],
      output: [vi('y', [1, 10])],
    },
  }).finish();
}
