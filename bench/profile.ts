/**
 * Where the time goes: runs the filter-saliency graph with ONNX Runtime's profiler and
 * sums node times by op type (and the slowest nodes).
 *   npx tsx bench/profile.ts [--arch resnet50] [--batch 1] [--form im2col|conv|matmul]
 *                            [--graph saliency|explain] [--weights initializers|inputs|mixed]
 *                            [--top 15] [--op Conv]
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { deterministicInput } from '../src/models/deterministic.js';
import { Model } from '../src/models/model.js';
import { architecture } from '../src/models/zoo.js';
import { forceWeightGradForm, type WeightGradForm } from '../src/ops/index.js';
import { Runner, type WeightPlacement } from '../src/runtime/session.js';
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
const f = model.unitCount;
const outputs =
  args.graph === 'explain'
    ? [
        {
          name: 'input_gradient',
          value: buildExplainGraph(model, shape, 'filter', { topK: 10, byAbs: false }, 100).inputGradient,
        },
      ]
    : [{ name: 'saliency', value: buildSaliencyGraph(model, shape, 'filter').saliency }];
const runner = await Runner.create(outputs, {
  threads: 2,
  weights: args.weights as WeightPlacement,
  profilePrefix: '/tmp/pss-profile',
});
const onehot = new Float32Array(b * model.numClasses);
for (let i = 0; i < b; i++) onehot[i * model.numClasses + i] = 1;
const feeds = {
  input: deterministicInput('x', shape),
  onehot,
  mean: new Float32Array(f),
  std: new Float32Array(f).fill(1),
};
for (let i = 0; i < 3; i++) await runner.run(feeds);
runner.endProfiling();
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
