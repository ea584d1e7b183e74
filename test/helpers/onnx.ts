/**
 * Rebuilds the weights of the weightless ONNX skeletons made by scripts/reference/strip-onnx.ts:
 * each initializer's doc_string holds its recipe, or "data" when the skeleton kept its values.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import onnxProto from 'onnx-proto';
import { deterministicParameter, hashUniform } from '../../src/models/deterministic.js';

/**
 * The float32 values of an initializer recipe, computed in float64 and rounded once:
 * - "param:NAME": the deterministic value of state_dict entry NAME;
 * - "affine:NAME:OFFSET:SCALE": OFFSET + SCALE u(NAME, i) (other ranks: class tokens, layer scales);
 * - "t:RECIPE": the transpose of a 2-D recipe (a Linear weight as torch.onnx gives it to MatMul);
 * - "fold-weight:CONV:BN[:EPS]", "fold-bias:CONV:BN[:EPS]": BatchNorm BN folded into conv CONV
 *   (scale = gamma / sqrt(var + eps), eps 1e-5 unless given), as torch.onnx exports in eval mode;
 * - "relpos:TABLE:WH:WW": Swin's relative-position bias, table[index].view(N, N, -1).permute(2, 0, 1)[None].
 */
export function rebuildInitializer(recipe: string, dims: number[]): Float32Array {
  const [kind, a, b, c] = recipe.split(':');
  if (kind === 'param') return deterministicParameter(a, dims);
  const n = dims.reduce((x, y) => x * y, 1);
  if (kind === 'affine')
    return Float32Array.from({ length: n }, (_, i) => Number(b) + Number(c) * hashUniform(a, i));
  if (kind === 't') {
    const inner = rebuildInitializer(recipe.slice(2), [dims[1], dims[0]]);
    return Float32Array.from(
      { length: n },
      (_, i) => inner[(i % dims[1]) * dims[0] + Math.floor(i / dims[1])],
    );
  }
  if (kind === 'relpos') return relativePositionBias(a, Number(b), Number(c), dims);
  const out = dims[0];
  const eps = c === undefined ? 1e-5 : Number(c);
  const bn = (k: string) => deterministicParameter(`${b}.${k}`, [out]);
  const [gamma, beta, mean, variance] = ['weight', 'bias', 'running_mean', 'running_var'].map(bn);
  const scale = Float64Array.from(gamma, (g, i) => g / Math.sqrt(variance[i] + eps));
  if (kind === 'fold-bias') return Float32Array.from(beta, (be, i) => be - mean[i] * scale[i]);
  if (kind !== 'fold-weight') throw new Error(`unknown recipe ${recipe}`);
  const w = deterministicParameter(`${a}.weight`, dims);
  const per = w.length / out;
  return w.map((v, i) => v * scale[Math.floor(i / per)]);
}

/** torchvision Swin's bias [1, heads, N, N] (N = wh ww) from its table [(2wh-1)(2ww-1), heads]. */
function relativePositionBias(table: string, wh: number, ww: number, dims: number[]): Float32Array {
  const heads = dims[1];
  const rows = (2 * wh - 1) * (2 * ww - 1);
  const t = deterministicParameter(table, [rows, heads]);
  const N = wh * ww;
  const out = new Float32Array(heads * N * N);
  for (let p = 0; p < N; p++)
    for (let q = 0; q < N; q++) {
      const dh = Math.floor(p / ww) - Math.floor(q / ww) + wh - 1;
      const dw = (p % ww) - (q % ww) + ww - 1;
      const row = dh * (2 * ww - 1) + dw;
      for (let h = 0; h < heads; h++) out[(h * N + p) * N + q] = t[row * heads + h];
    }
  return out;
}

/** A skeleton's bytes (gzipped when the name ends in .gz). */
const readSkeleton = (path: string) => {
  const bytes = readFileSync(path);
  return path.endsWith('.gz') ? gunzipSync(bytes) : bytes;
};

/** Reads a skeleton and returns full ONNX bytes. */
export function loadSkeleton(path: string): Uint8Array {
  const model = onnxProto.onnx.ModelProto.decode(readSkeleton(path));
  for (const t of model.graph!.initializer!) {
    if (t.docString === 'data') continue;
    const data = rebuildInitializer(t.docString!, t.dims!.map(Number));
    t.rawData = new Uint8Array(data.buffer);
  }
  return onnxProto.onnx.ModelProto.encode(model).finish();
}

/** The recipes of a skeleton's initializers, by name ("data" for kept values). */
export function skeletonRecipes(path: string): Map<string, string> {
  const model = onnxProto.onnx.ModelProto.decode(readSkeleton(path));
  return new Map(model.graph!.initializer!.map((t) => [t.name!, t.docString ?? 'data']));
}

/**
 * The torchvision parameter name of each Conv weight in node order (pss's saliency order), from
 * the recipes: "param:X.weight" and "fold-weight:X:BN" both come from conv X.
 */
export function convSources(path: string): string[] {
  const model = onnxProto.onnx.ModelProto.decode(readSkeleton(path));
  const recipes = new Map(model.graph!.initializer!.map((t) => [t.name!, t.docString ?? 'data']));
  const out: string[] = [];
  const seen = new Set<string>();
  for (const n of model.graph!.node!) {
    const w = n.opType === 'Conv' ? n.input?.[1] : undefined;
    if (!w || seen.has(w) || !recipes.has(w)) continue;
    seen.add(w);
    const [kind, a] = recipes.get(w)!.split(':');
    out.push(kind === 'fold-weight' ? `${a}.weight` : a);
  }
  return out;
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

export type Node = import('onnx-proto').onnx.INodeProto;
export type Attr = import('onnx-proto').onnx.IAttributeProto;

/** A node of a hand-built graph. */
export const onnxNode = (
  opType: string,
  input: string[],
  output: string[],
  attribute: Attr[] = [],
): Node => ({
  opType,
  input,
  output,
  attribute,
});

/** The small classifier most hand-built cases use: Conv 3→4 (3×3, same), Relu, global pool, Gemm to `classes`. */
export const convClassifier = (x: string, y = 'y', classes = 10): Node[] => [
  onnxNode('Conv', [x, 'w:4x3x3x3', 'b:4'], ['c'], [{ name: 'pads', ints: [1, 1, 1, 1], type: 7 }]),
  onnxNode('Relu', ['c'], ['r']),
  onnxNode('GlobalAveragePool', ['r'], ['gap']),
  onnxNode('Flatten', ['gap'], ['flat']),
  onnxNode('Gemm', ['flat', `fc:${classes}x4`, `fcb:${classes}`], [y], [{ name: 'transB', i: 1, type: 2 }]),
];

/** An initializer named "key:DxD...": those dims, values u(name, i) in [-1, 1) (onnxBytes's `deterministic`). */
export function hashedTensor(name: string): { dims: number[]; values: number[] } {
  const dims = name.split(':')[1].split('x').map(Number);
  return {
    dims,
    values: Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => hashUniform(name, i)),
  };
}

/**
 * A classifier file from nodes over input x (default [1, 3, 8, 8]) to output y (default [1, 10]).
 * Inputs named "key:DxD..." not in `constants` become float initializers of those dims with
 * `deterministic`'s values; `constants` are 1-D (int64 when every value is an integer, else float).
 */
export function onnxBytes(o: {
  opset: number;
  nodes: Node[];
  constants?: Record<string, number[]>;
  deterministic: (name: string) => { dims: number[]; values: number[] };
  inputs?: { name: string; dims: (number | string)[] }[];
  /** elemType: TensorProto's data type (default 1, float). */
  outputs?: { name: string; dims: (number | string)[]; elemType?: number }[];
}): Uint8Array {
  const { onnx } = onnxProto;
  const vi = (name: string, dims: (number | string)[], elemType = 1) => ({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
  const inputs = o.inputs ?? [{ name: 'x', dims: [1, 3, 8, 8] }];
  const graphInputs = new Set(inputs.map((i) => i.name));
  const initializer = new Map<string, import('onnx-proto').onnx.ITensorProto>();
  for (const [name, values] of Object.entries(o.constants ?? {}))
    initializer.set(
      name,
      values.every(Number.isInteger) && !name.startsWith('scales')
        ? { name, dims: [values.length], dataType: 7, int64Data: values }
        : { name, dims: [values.length], dataType: 1, floatData: values },
    );
  // the nodes of If branches read the outer scope's initializers too
  const all = (nodes: Node[]): Node[] =>
    nodes.flatMap((n) => [n, ...(n.attribute ?? []).flatMap((a) => (a.g?.node ? all(a.g.node) : []))]);
  for (const n of all(o.nodes))
    for (const i of n.input ?? [])
      if (i.includes(':') && !initializer.has(i) && !graphInputs.has(i)) {
        const { dims, values } = o.deterministic(i);
        initializer.set(i, { name: i, dims, dataType: 1, floatData: values });
      }
  return onnx.ModelProto.encode({
    irVersion: o.opset < 9 ? 3 : 7,
    opsetImport: [{ domain: '', version: o.opset }],
    graph: {
      name: 'g',
      node: o.nodes,
      initializer: [...initializer.values()],
      input: inputs.map((i) => vi(i.name, i.dims)),
      output: (o.outputs ?? [{ name: 'y', dims: [1, 10] }]).map((i) => vi(i.name, i.dims, i.elemType)),
    },
  }).finish();
}
