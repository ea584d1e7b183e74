/**
 * Where the time goes: runs the filter-saliency graph with ONNX Runtime's profiler and
 * sums node times by op type (and the slowest nodes).
 *   npx tsx bench/profile.ts [--arch resnet50] [--batch 1] [--form im2col|conv|matmul]
 *                            [--graph saliency|explain] [--weights initializers|inputs]
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { toOnnxParts } from '../src/graph/onnx.js';
import { deterministicInput } from '../src/models/deterministic.js';
import { Model } from '../src/models/model.js';
import { architecture } from '../src/models/zoo.js';
import { forceWeightGradForm, opDef, type WeightGradForm } from '../src/ops/index.js';
import { buildExplainGraph } from '../src/saliency/explain-graph.js';
import { buildSaliencyGraph } from '../src/saliency/graph.js';

const { values: args } = parseArgs({
  options: {
    arch: { type: 'string', default: 'resnet50' },
    batch: { type: 'string', default: '1' },
    form: { type: 'string' },
    graph: { type: 'string', default: 'saliency' },
    weights: { type: 'string', default: 'initializers' },
    top: { type: 'string', default: '15' },
    op: { type: 'string' },
  },
});
if (args.form) forceWeightGradForm(args.form as WeightGradForm);
const arch = architecture(args.arch!);
const model = Model.deterministic(arch);
const b = Number(args.batch);
const [c, h, w] = arch.inputShape;
const shape = [b, c, h, w];
const f = model.filterCount;
const outputs =
  args.graph === 'explain'
    ? [
        {
          name: 'input_gradient',
          value: buildExplainGraph(model, shape, 'filter', { topK: 10, byAbs: false }, 100).inputGradient,
        },
      ]
    : [{ name: 'saliency', value: buildSaliencyGraph(model, shape, 'filter').saliency }];
const graph = outputs[0].value.graph;
const {
  model: bytes,
  external,
  inputs,
} = toOnnxParts(outputs, (op) => opDef(op)!, {
  constants: (v) =>
    args.weights === 'inputs' || (args.weights === 'mixed' && graph.folded.has(v)) ? 'inputs' : 'external',
});
const raw = (d: ArrayBufferView) => new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
const session = await ort.InferenceSession.create(bytes, {
  intraOpNumThreads: 2,
  graphOptimizationLevel: 'all',
  enableCpuMemArena: true,
  enableMemPattern: false,
  enableProfiling: true,
  profileFilePrefix: '/tmp/pss-profile',
  externalData: external.map((k) => ({ path: k.name, data: raw(k.data) })),
});
const onehot = new Float32Array(b * model.numClasses);
for (let i = 0; i < b; i++) onehot[i * model.numClasses + i] = 1;
const feeds: Record<string, ort.Tensor> = {
  input: new ort.Tensor('float32', deterministicInput('x', shape), shape),
  onehot: new ort.Tensor('float32', onehot, [b, model.numClasses]),
  mean: new ort.Tensor('float32', new Float32Array(f), [f]),
  std: new ort.Tensor('float32', new Float32Array(f).fill(1), [f]),
};
for (const k of inputs) feeds[k.name] = new ort.Tensor('float32', k.data as Float32Array, [...k.shape]);
for (const name of Object.keys(feeds)) if (!session.inputNames.includes(name)) delete feeds[name];
for (let i = 0; i < 3; i++) await session.run(feeds);
session.endProfiling();
const file = `/tmp/${readdirSync('/tmp')
  .filter((f) => f.startsWith('pss-profile'))
  .sort()
  .pop()}`;
const events = JSON.parse(readFileSync(file, 'utf8')) as {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string; input_type_shape?: Record<string, number[]>[] };
}[];
for (const f of readdirSync('/tmp').filter((f) => f.startsWith('pss-profile'))) rmSync(`/tmp/${f}`);
const nodes = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
const byOp = new Map<string, number>();
for (const e of nodes) byOp.set(e.args!.op_name!, (byOp.get(e.args!.op_name!) ?? 0) + e.dur / 3);
const total = [...byOp.values()].reduce((a, b) => a + b, 0);
console.log(`total node time per run: ${(total / 1000).toFixed(1)} ms (batch ${b})`);
for (const [k, v] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top)))
  console.log(`${k.padEnd(24)} ${(v / 1000).toFixed(1).padStart(8)} ms  ${((100 * v) / total).toFixed(1)}%`);
const slow = new Map<string, number>();
const shapes = new Map<string, string>();
for (const e of nodes) {
  if (args.op && e.args!.op_name !== args.op) continue;
  slow.set(e.name, (slow.get(e.name) ?? 0) + e.dur / 3);
  shapes.set(e.name, (e.args?.input_type_shape ?? []).map((t) => `[${Object.values(t)[0]}]`).join(' '));
}
console.log('\nslowest nodes:');
for (const [k, v] of [...slow].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top)))
  console.log(
    `${k.replace('_kernel_time', '').padEnd(40)} ${(v / 1000).toFixed(1).padStart(8)} ms  ${shapes.get(k)}`,
  );
