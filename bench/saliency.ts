/**
 * Benchmark: filter saliency (and the forward pass) of a built-in model on ONNX Runtime
 * against PyTorch on the same machine, in the same run. Reports medians and ratios.
 *
 *   npm run bench -- [--arch resnet50] [--batch 8] [--repeats 5] [--threads 2] [--no-torch]
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { deterministicInput } from '../src/models/deterministic.js';
import { Model } from '../src/models/model.js';
import { architecture } from '../src/models/zoo.js';
import { forceWeightGradForm, type WeightGradForm } from '../src/ops/index.js';
import { Runner } from '../src/runtime/session.js';
import { SaliencyEngine } from '../src/saliency/engine.js';
import { buildForward } from '../src/saliency/graph.js';

const { values: args } = parseArgs({
  options: {
    arch: { type: 'string', default: 'resnet50' },
    batch: { type: 'string', default: '8' },
    repeats: { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
    form: { type: 'string' },
    'no-torch': { type: 'boolean', default: false },
  },
});
const arch = architecture(args.arch!);
const batch = Number(args.batch);
const repeats = Number(args.repeats);
const threads = Number(args.threads);
if (args.form) forceWeightGradForm(args.form as WeightGradForm);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function time(fn: () => Promise<unknown>): Promise<number> {
  await fn(); // warm-up (and session creation)
  const ts: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    ts.push((performance.now() - t0) / 1000);
  }
  return median(ts);
}

const model = Model.deterministic(arch);
const [c, h, w] = arch.inputShape;
const image = (n: number) => ({
  data: deterministicInput('bench', [n, c, h, w]),
  shape: [n, c, h, w] as const,
});
const labels = (n: number) => Array.from({ length: n }, (_, i) => i % model.numClasses);

const ours: Record<string, number> = {};
{
  const fwd = buildForward(model, [1, c, h, w]);
  const runner = await Runner.create([{ name: 'logits', value: fwd.logits }], { threads });
  const x = image(1).data;
  ours.forward_b1 = await time(() => runner.run({ input: x }));
  await runner.release();
}
{
  await using engine = new SaliencyEngine(model, { threads });
  const one = image(1);
  ours.filter_b1 = await time(() => engine.compute(one, labels(1)));
  const many = image(batch);
  ours.filter_per_sample = (await time(() => engine.compute(many, labels(batch)))) / batch;
}
ours.peak_rss_mb = process.resourceUsage().maxRSS / 1024;

let torch: Record<string, number> | undefined;
if (!args['no-torch']) {
  for (const py of [process.env.PSS_PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean) as string[]) {
    const r = spawnSync(
      py,
      [
        'scripts/reference/torch_bench.py',
        '--arch',
        arch.name,
        '--size',
        String(h),
        '--threads',
        String(threads),
        '--repeats',
        String(repeats),
        '--batch',
        String(batch),
        '--what',
        'forward,filter',
      ],
      { encoding: 'utf8' },
    );
    if (r.status === 0) {
      torch = JSON.parse(r.stdout.trim().split('\n').pop()!);
      break;
    }
  }
  if (!torch) console.log('PyTorch not found (install python3-torch); showing pss alone.');
}

console.log(
  `\n${arch.name} ${h}x${w}, ${threads} threads, median of ${repeats}; seconds (per image for batches)`,
);
const rows = [
  ['forward, batch 1', 'forward_b1'],
  ['filter saliency, batch 1', 'filter_b1'],
  [`filter saliency, per sample in batches of ${batch}`, 'filter_per_sample'],
  ['peak RSS (MB)', 'peak_rss_mb'],
];
console.log(['', 'pss (ORT)', 'PyTorch', 'pss / PyTorch'].join('\t'));
for (const [label, key] of rows) {
  const t = torch?.[key];
  console.log(
    [label, ours[key].toFixed(4), t?.toFixed(4) ?? '-', t ? (ours[key] / t).toFixed(2) : '-'].join('\t'),
  );
}
if (torch?.filter_b1) {
  const throughput = 1 / ours.filter_per_sample / (1 / torch.filter_b1);
  console.log(`per-sample batches: ${throughput.toFixed(2)}x PyTorch's batch-1 throughput`);
}
if (torch)
  console.log(
    `PyTorch ${torch.torch_version}; BLAS: ${(torch as Record<string, unknown>).blas ?? 'see torch_bench.py'}`,
  );
