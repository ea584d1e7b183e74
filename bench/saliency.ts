/**
 * Benchmark: forward pass, filter saliency (batch 1 and per-sample batches) and input-space
 * saliency of a built-in model on ONNX Runtime, against PyTorch on the same machine in the
 * same run. Each measurement runs in its own process, so peak memory (RSS) is its own.
 *
 *   npm run bench -- [--arch resnet50] [--batch 4] [--repeats 5] [--threads 2] [--no-torch]
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { deterministicInput } from '../src/models/deterministic.js';
import { Model } from '../src/models/model.js';
import { architecture } from '../src/models/zoo.js';
import { Runner, type WeightPlacement } from '../src/runtime/session.js';
import { SaliencyEngine } from '../src/saliency/engine.js';
import { explain } from '../src/saliency/explain.js';
import { buildForward } from '../src/saliency/graph.js';

const { values: args } = parseArgs({
  options: {
    arch: { type: 'string', default: 'resnet50' },
    batch: { type: 'string', default: '4' }, // pss stats' default
    repeats: { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
    weights: { type: 'string' },
    only: { type: 'string' },
    'no-torch': { type: 'boolean', default: false },
  },
});
const arch = architecture(args.arch!);
const batch = Number(args.batch);
const repeats = Number(args.repeats);
const threads = Number(args.threads);
const [c, h, w] = arch.inputShape;
const ITEMS = ['forward_b1', 'filter_b1', 'filter_per_sample', 'input_b1'] as const;
type Item = (typeof ITEMS)[number];

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

/** One measurement, in this process: seconds (per image for batches). */
async function measure(item: Item): Promise<number> {
  const model = Model.deterministic(arch);
  const image = (n: number) => ({
    data: deterministicInput('bench', [n, c, h, w]),
    shape: [n, c, h, w] as const,
  });
  const labels = (n: number) => Array.from({ length: n }, (_, i) => i % model.numClasses);
  if (item === 'forward_b1') {
    const fwd = buildForward(model, [1, c, h, w]);
    const runner = await Runner.create([{ name: 'logits', value: fwd.logits }], { threads });
    const x = image(1).data;
    return time(() => runner.run({ input: x }));
  }
  await using engine = new SaliencyEngine(model, {
    threads,
    weights: args.weights as WeightPlacement | undefined,
  });
  // (await inside the using-block: the engine must outlive the measurement)
  if (item === 'filter_b1') return await time(() => engine.compute(image(1), labels(1)));
  if (item === 'filter_per_sample')
    return (await time(() => engine.compute(image(batch), labels(batch)))) / batch;
  return await time(() => explain(engine, image(1), 1));
}

if (args.only) {
  const seconds = await measure(args.only as Item);
  console.log(JSON.stringify({ seconds, peak_rss_mb: process.resourceUsage().maxRSS / 1024 }));
} else {
  const ours: Record<string, { seconds: number; peak_rss_mb: number }> = {};
  for (const item of ITEMS) {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'bench/saliency.ts', ...process.argv.slice(2), '--only', item],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`${item} failed:\n${r.stderr}`);
    ours[item] = JSON.parse(r.stdout.trim().split('\n').pop()!);
  }

  // PyTorch too runs each measurement in its own process, so its peak RSS is per row.
  const TORCH_PART: Record<Item, string> = {
    forward_b1: 'forward',
    filter_b1: 'filter',
    filter_per_sample: 'filter',
    input_b1: 'input',
  };
  const torchRuns = new Map<string, Record<string, unknown>>();
  let torch: Record<string, unknown> | undefined;
  if (!args['no-torch']) {
    const python = [process.env.PSS_PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean) as string[];
    for (const part of new Set(Object.values(TORCH_PART))) {
      for (const py of python) {
        const r = spawnSync(
          py,
          [
            'scripts/reference/torch_bench.py',
            ...['--arch', arch.name, '--size', String(h), '--threads', String(threads)],
            ...['--repeats', String(repeats), '--batch', String(batch), '--what', part],
          ],
          { encoding: 'utf8' },
        );
        if (r.status === 0) {
          torchRuns.set(part, JSON.parse(r.stdout.trim().split('\n').pop()!));
          break;
        }
      }
    }
    torch = torchRuns.get('filter') ?? torchRuns.get('forward');
    if (!torch) console.log('PyTorch not found (install python3-torch); showing pss alone.');
  }
  const torchOf = (item: Item) => torchRuns.get(TORCH_PART[item]);

  console.log(
    `\n${arch.name} ${h}x${w}, ${threads} threads, median of ${repeats}; seconds (per image for batches)`,
  );
  const rows: [string, Item][] = [
    ['forward, batch 1', 'forward_b1'],
    ['filter saliency, batch 1', 'filter_b1'],
    [`filter saliency, per sample, batches of ${batch}`, 'filter_per_sample'],
    ['input-space saliency, batch 1', 'input_b1'],
  ];
  const header = ['', 'pss (ORT)', 'PyTorch', 'pss / PyTorch', 'pss peak RSS MB', 'PyTorch peak RSS MB'];
  console.log(header.join('\t'));
  for (const [label, key] of rows) {
    const t = torchOf(key)?.[key] as number | undefined;
    const rss = torchOf(key)?.peak_rss_mb as number | undefined;
    const s = ours[key].seconds;
    console.log(
      [
        label,
        s.toFixed(4),
        t?.toFixed(4) ?? '-',
        t ? (s / t).toFixed(2) : '-',
        ours[key].peak_rss_mb.toFixed(0),
        rss?.toFixed(0) ?? '-',
      ].join('\t'),
    );
  }
  if (torch) {
    const b1 = torch.filter_b1 as number;
    console.log(
      `per-sample batches: ${(b1 / ours.filter_per_sample.seconds).toFixed(2)}x PyTorch's batch-1 throughput`,
    );
    console.log(
      `PyTorch ${torch.torch_version}; BLAS: ${JSON.stringify(torch.blas ?? torch.blas_info ?? 'see torch_bench.py')}`,
    );
  }
}
