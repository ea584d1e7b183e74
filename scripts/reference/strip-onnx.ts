/**
 * Turns a torch.onnx export with the deterministic weights into a weightless skeleton: every
 * initializer keeps its name, type and shape, loses its data, and gets a recipe in its
 * doc_string that test/helpers/onnx.ts follows to rebuild it exactly (rebuildInitializer lists
 * them). Each recipe is checked against the data; small constants the recipes do not cover
 * keep their values ("data").
 *
 *   npx tsx scripts/reference/strip-onnx.ts [--params F.params.json] in.onnx out.skeleton.onnx[.gz]
 *
 * With --params (written by make_onnx_families.py: each state_dict entry's rule, the Conv-BN
 * pairs torch.onnx may fold, Swin's relative-position tables) the recipes are found by matching
 * values, and the pairs the export folded go to in.folds.json. Without, the ResNet-18 export of
 * export_onnx.py: names tell the recipes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import onnxProto from 'onnx-proto';
import { layerName } from '../../src/models/onnx-import.js';
import { rebuildInitializer } from '../../test/helpers/onnx.js';

type Tensor = onnxProto.onnx.ITensorProto;
interface Params {
  params: [string, number[], ['param'] | ['affine', number, number]][];
  folds: [string, string, number][];
  relpos: [string, number, number][];
}

const args = process.argv.slice(2);
const paramsAt = args.indexOf('--params');
const params: Params | undefined =
  paramsAt >= 0 ? JSON.parse(readFileSync(args.splice(paramsAt, 2)[1], 'utf8')) : undefined;
const [src, dst] = args;
const model = onnxProto.onnx.ModelProto.decode(readFileSync(src));
const graph = model.graph!;

/** Constants no recipe covers and small enough to keep (shape arithmetic, scalars). */
const KEEP_ELEMENTS = 4096;

const floats = (t: Tensor): Float32Array | undefined => {
  if (t.dataType !== 1) return undefined;
  // a copy: protobufjs gives Node Buffers, whose slice() is a view of the whole file
  if (t.rawData?.byteLength) return new Float32Array(new Uint8Array(t.rawData).buffer);
  return Float32Array.from(t.floatData ?? []);
};
const dimsOf = (t: Tensor) => (t.dims ?? []).map(Number);
const key = (dims: readonly number[]) => dims.join('x');

/** The worst deviation of a recipe from the data, relative to the data's scale. */
function deviation(recipe: string, t: Tensor, data: Float32Array): number {
  const rebuilt = rebuildInitializer(recipe, dimsOf(t));
  let worst = 0;
  let scale = 1e-30;
  rebuilt.forEach((v, i) => {
    worst = Math.max(worst, Math.abs(v - data[i]));
    scale = Math.max(scale, Math.abs(data[i]));
  });
  return worst / scale;
}

/** Candidate recipes by shape, from the params file. */
function candidates(p: Params): Map<string, string[]> {
  const byShape = new Map<string, string[]>();
  const add = (dims: readonly number[], recipe: string) => {
    byShape.set(key(dims), [...(byShape.get(key(dims)) ?? []), recipe]);
  };
  const shapes = new Map(p.params.map(([name, shape]) => [name, shape]));
  for (const [name, shape, rule] of p.params) {
    const recipe = rule[0] === 'param' ? `param:${name}` : `affine:${name}:${rule[1]}:${rule[2]}`;
    add(shape, recipe);
    if (shape.length === 2) add([shape[1], shape[0]], `t:${recipe}`);
  }
  for (const [conv, bn, eps] of p.folds) {
    const shape = shapes.get(`${conv}.weight`)!;
    add(shape, `fold-weight:${conv}:${bn}:${eps}`);
    add([shape[0]], `fold-bias:${conv}:${bn}:${eps}`);
  }
  for (const [table, wh, ww] of p.relpos) {
    const heads = shapes.get(table)![1];
    add([1, heads, wh * ww, wh * ww], `relpos:${table}:${wh}:${ww}`);
  }
  return byShape;
}

/** ResNet-18 (export_onnx.py): parameters keep their names; folded convs are named onnx::Conv_N. */
function legacyRecipe(t: Tensor, consumer: Map<string, onnxProto.onnx.INodeProto>): string {
  const node = consumer.get(t.name!);
  if (!t.name!.startsWith('onnx::') || node?.opType !== 'Conv') return `param:${t.name}`;
  const convName = layerName(node, 0); // "/layer1/layer1.0/conv1/Conv" -> "layer1.0.conv1"
  const bnName = convName.endsWith('downsample.0')
    ? convName.replace(/0$/, '1')
    : convName.replace(/conv(\d)$/, 'bn$1');
  return `${node.input![1] === t.name ? 'fold-weight' : 'fold-bias'}:${convName}:${bnName}`;
}

const consumer = new Map<string, onnxProto.onnx.INodeProto>();
for (const n of graph.node!) for (const i of n.input ?? []) if (!consumer.has(i)) consumer.set(i, n);
const byShape = params && candidates(params);
const folds = new Map<string, [string, string, number]>();
const kept: string[] = [];
for (const t of graph.initializer!) {
  const data = floats(t);
  const options = byShape ? (byShape.get(key(dimsOf(t))) ?? []) : [legacyRecipe(t, consumer)];
  const recipe = data && options.find((r) => deviation(r, t, data) <= 1e-5);
  if (!recipe) {
    const n = dimsOf(t).reduce((a, b) => a * b, 1);
    if (n > KEEP_ELEMENTS) throw new Error(`${t.name} [${dimsOf(t)}]: no recipe matches (${options.length} tried)`);
    t.docString = 'data';
    kept.push(t.name!);
    continue;
  }
  if (recipe.startsWith('fold-')) {
    const [, conv, bn, eps] = recipe.split(':');
    folds.set(conv, [conv, bn, Number(eps)]);
  }
  t.docString = recipe;
  t.rawData = new Uint8Array(0);
  t.floatData = [];
}
const bytes = onnxProto.onnx.ModelProto.encode(model).finish();
writeFileSync(dst, dst.endsWith('.gz') ? gzipSync(bytes, { level: 9 }) : bytes);
if (params) writeFileSync(src.replace(/\.onnx$/, '.folds.json'), `${JSON.stringify([...folds.values()])}\n`);
console.log(`wrote ${dst}: ${graph.initializer!.length} initializers, ${kept.length} kept with their data`);
