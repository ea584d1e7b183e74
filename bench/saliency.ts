/**
 * Benchmark: forward pass, filter saliency (batch 1 and per-sample batches), input-space
 * saliency and validation statistics over JPEGs (decoding included) of a built-in model on
 * ONNX Runtime, against PyTorch on the same machine in the same run. Each measurement runs in
 * its own process, so peak memory (RSS) is its own. For ResNet-50 also the same network
 * imported from a torch.onnx export (opset 17, BatchNorm folded as PyTorch exports it; the
 * parity suite's skeleton with deterministic weights) against the built-in one.
 *
 *   npm run bench -- [--arch resnet50] [--batch 4] [--repeats 5] [--rounds 3] [--threads 2]
 *                    [--weights initializers|inputs|mixed] [--images 24 | --image-dir DIR]
 *                    [--units filters|filters+neurons|all] [--items forward_b1,filter_b1,...]
 *                    [--no-torch]
 *
 * --units: the unit set both sides aggregate over (default: the architecture's, e.g. all for
 * ViT); "filter saliency" is then filter-and-unit saliency. --items: only these rows.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { openDataset } from '../src/data/open.js';
import { collectStats } from '../src/jobs/collect-stats.js';
import { deterministicInput } from '../src/models/deterministic.js';
import { Model } from '../src/models/model.js';
import { Net } from '../src/models/nn.js';
import { onnxModel } from '../src/models/onnx-import.js';
import {
  DEFAULT_UNIT_SET,
  describeUnitCounts,
  isUnitSet,
  UNIT_SETS,
  type UnitSet,
  unitTable,
} from '../src/models/units.js';
import { architecture } from '../src/models/zoo.js';
import { Runner, type WeightPlacement } from '../src/runtime/session.js';
import { DEFAULT_AGGREGATION } from '../src/saliency/aggregation.js';
import { SaliencyEngine } from '../src/saliency/engine.js';
import { explain } from '../src/saliency/explain.js';
import { buildForward } from '../src/saliency/graph.js';
import { seededRandom } from '../src/util/random.js';
import { loadSkeleton } from '../test/helpers/onnx.js';

const { values: args } = parseArgs({
  options: {
    arch: { type: 'string', default: 'resnet50' },
    batch: { type: 'string', default: '4' }, // pss stats' default
    repeats: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    weights: { type: 'string' },
    images: { type: 'string', default: '24' },
    only: { type: 'string' },
    'image-dir': { type: 'string' },
    'no-torch': { type: 'boolean', default: false },
    units: { type: 'string' },
    items: { type: 'string' },
  },
});
const arch = architecture(args.arch!);
const batch = Number(args.batch);
const repeats = Number(args.repeats);
const rounds = Number(args.rounds);
const threads = Number(args.threads);
const [c, h, w] = arch.inputShape;
const BASE_ITEMS = ['forward_b1', 'filter_b1', 'filter_per_sample', 'input_b1', 'stats'] as const;
/** The imported torch.onnx export of the same architecture, where the parity suite has one at this size. */
const ONNX_SKELETON: Record<string, string> = {
  resnet50: 'test/fixtures/onnx/resnet50-op17.skeleton.onnx.gz',
};
const ONNX_ITEMS = ['onnx_forward_b1', 'onnx_filter_b1'] as const;
type Item = (typeof BASE_ITEMS)[number] | (typeof ONNX_ITEMS)[number];
const ALL_ITEMS: readonly Item[] = [...BASE_ITEMS, ...(ONNX_SKELETON[arch.name] ? ONNX_ITEMS : [])];
const ITEMS: readonly Item[] = args.items
  ? args.items.split(',').map((i) => {
      if (!ALL_ITEMS.includes(i as Item))
        throw new Error(`--items: ${i} is not one of ${ALL_ITEMS.join(', ')}`);
      return i as Item;
    })
  : ALL_ITEMS;
const units: UnitSet = ((u) => {
  if (!isUnitSet(u)) throw new Error(`--units: ${u} is not one of ${Object.keys(UNIT_SETS).join(', ')}`);
  return u;
})(args.units ?? arch.defaultUnits ?? DEFAULT_UNIT_SET);

/** The architecture's parameters, declared without weights (for its unit counts). */
function declared() {
  const net = new Net();
  arch.define(net, arch.defaultClasses);
  return net.params;
}

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
const image = (n: number) => ({
  data: deterministicInput('bench', [n, c, h, w]),
  shape: [n, c, h, w] as const,
});
const labels = (model: Model, n: number) => Array.from({ length: n }, (_, i) => i % model.numClasses);

async function measure(item: Item): Promise<number> {
  const onnx = item.startsWith('onnx_');
  const model = onnx
    ? onnxModel(loadSkeleton(ONNX_SKELETON[arch.name]), `${arch.name}-op17.onnx`)
    : Model.deterministic(arch).withUnits(units);
  if (onnx) item = item.replace('onnx_', '') as Item;
  if (item === 'forward_b1') {
    const fwd = buildForward(model, [1, c, h, w]);
    const runner = await Runner.create([{ name: 'logits', value: fwd.logits }], { threads });
    const x = image(1).data;
    return time(() => runner.run({ input: x }));
  }
  if (item === 'stats') return await statsPerImage(model);
  await using engine = new SaliencyEngine(model, {
    threads,
    weights: args.weights as WeightPlacement | undefined,
  });
  // (await inside the using-block: the engine must outlive the measurement)
  if (item === 'filter_b1') return await time(() => engine.compute(image(1), labels(model, 1)));
  if (item === 'filter_per_sample')
    return (await time(() => engine.compute(image(batch), labels(model, batch)))) / batch;
  return await time(() => explain(engine, image(1), 1));
}

/**
 * `pss stats` over an ImageFolder of JPEGs, decoding included (it overlaps the compute), after
 * one warm-up batch: seconds per image.
 */
async function statsPerImage(model: Model): Promise<number> {
  await using engine = new SaliencyEngine(model, { threads });
  const data = await openDataset(args['image-dir']!, model);
  await engine.compute(image(batch), labels(model, batch)); // session creation
  const t0 = performance.now();
  const out = await collectStats(engine, data, { aggregation: DEFAULT_AGGREGATION, batch });
  if (out.acc.count !== data.length)
    throw new Error(`statistics over ${out.acc.count} of ${data.length} images`);
  return (performance.now() - t0) / 1000 / data.length;
}

/** A temporary ImageFolder of random 500x375 JPEGs (the size of a typical ImageNet photo). */
async function makeImageFolder(n: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'pss-bench-'));
  const { next } = seededRandom(7);
  for (let i = 0; i < n; i++) {
    const cls = join(dir, `class${i % 4}`);
    mkdirSync(cls, { recursive: true });
    const pixels = Buffer.from(Uint8Array.from({ length: 500 * 375 * 3 }, () => Math.floor(next() * 256)));
    await sharp(pixels, { raw: { width: 500, height: 375, channels: 3 } })
      .jpeg({ quality: 90 })
      .toFile(join(cls, `img${i}.jpeg`));
  }
  return dir;
}

if (args.only) {
  const seconds = await measure(args.only as Item);
  console.log(JSON.stringify({ seconds, peak_rss_mb: process.resourceUsage().maxRSS / 1024 }));
} else {
  // Rounds interleave pss and PyTorch, each measurement in its own process (so each peak RSS
  // is its own): this machine's speed drifts by tens of percent over minutes, and a drift
  // then hits both sides of a round alike. Ratios are per round; the table gives their median.
  const TORCH_PART: Record<(typeof BASE_ITEMS)[number], string> = {
    forward_b1: 'forward',
    filter_b1: 'filter',
    filter_per_sample: 'filter',
    input_b1: 'input',
    stats: 'stats',
  };
  type Run = Record<string, number>;
  const ours = Object.fromEntries(ITEMS.map((i) => [i, [] as Run[]])) as Record<Item, Run[]>;
  // The statistics rows read one ImageFolder of JPEGs on both sides.
  const imageDir = args['image-dir'] ?? (await makeImageFolder(Number(args.images)));
  const childArgs = [...process.argv.slice(2), '--image-dir', imageDir];
  const torchRuns: Record<string, Run[]> = {};
  let torchInfo: Record<string, unknown> | undefined;
  let torchMissing = Boolean(args['no-torch']);
  for (let round = 0; round < rounds; round++) {
    for (const item of ITEMS) {
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'bench/saliency.ts', ...childArgs, '--only', item],
        { encoding: 'utf8' },
      );
      if (r.status !== 0) throw new Error(`${item} failed:\n${r.stderr}`);
      ours[item].push(JSON.parse(r.stdout.trim().split('\n').pop()!));
    }
    const parts = new Set(
      ITEMS.flatMap((i) => (i in TORCH_PART ? [TORCH_PART[i as keyof typeof TORCH_PART]] : [])),
    );
    for (const part of torchMissing ? [] : parts) {
      const out = runTorch(part, imageDir);
      if (!out) {
        torchMissing = true;
        break;
      }
      torchInfo = out;
      (torchRuns[part] ??= []).push(out as Run);
    }
    process.stderr.write(`round ${round + 1}/${rounds} done\n`);
  }
  if (torchMissing && !args['no-torch'])
    console.log('PyTorch not found (install python3-torch); showing pss alone.');

  console.log(
    `\n${arch.name} ${h}x${w}, units ${units} (${describeUnitCounts(unitTable(declared(), units))}), ${threads} threads; seconds (per image for batches): median over ${rounds} rounds of the median of ${repeats} runs`,
  );
  const what = units === 'filters' ? 'filter' : `unit (${units})`;
  const rows: [string, Item][] = [
    ['forward, batch 1', 'forward_b1'],
    [`${what} saliency, batch 1`, 'filter_b1'],
    [`${what} saliency, per sample, batches of ${batch}`, 'filter_per_sample'],
    ['input-space saliency, batch 1', 'input_b1'],
    [
      `statistics per image, ${args['image-dir'] ? 'the ImageFolder' : `${args.images} JPEGs`} decoded (PyTorch: the original loop)`,
      'stats',
    ],
  ];
  const fmt = (xs: number[], digits: number) =>
    xs.length > 1
      ? `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`
      : (xs[0]?.toFixed(digits) ?? '-');
  const header = ['', 'pss (ORT)', 'PyTorch', 'pss / PyTorch', 'pss peak RSS MB', 'PyTorch peak RSS MB'];
  console.log(header.join('\t'));
  const torchOf = (item: Item) =>
    (item in TORCH_PART && torchRuns[TORCH_PART[item as keyof typeof TORCH_PART]]) || [];
  for (const [label, key] of rows.filter(([, k]) => ITEMS.includes(k))) {
    const s = ours[key].map((r) => r.seconds);
    const t = torchOf(key).map((r) => r[key === 'stats' ? 'stats_per_image' : key]);
    console.log(
      [
        label,
        fmt(s, 4),
        fmt(t, 4),
        fmt(
          t.map((ti, i) => s[i] / ti),
          2,
        ),
        fmt(
          ours[key].map((r) => r.peak_rss_mb),
          0,
        ),
        fmt(
          torchOf(key).map((r) => r.peak_rss_mb),
          0,
        ),
      ].join('\t'),
    );
  }
  if (ITEMS.includes('onnx_filter_b1')) {
    console.log(
      `\n${arch.name} imported from torch.onnx (opset 17, BatchNorm folded) against the built-in one:`,
    );
    console.log(['', 'imported ONNX', 'built-in', 'imported / built-in'].join('\t'));
    for (const [label, key, builtin] of [
      ['forward, batch 1', 'onnx_forward_b1', 'forward_b1'],
      ['filter saliency, batch 1', 'onnx_filter_b1', 'filter_b1'],
    ] as const) {
      const s = ours[key].map((r) => r.seconds);
      const b = ours[builtin].map((r) => r.seconds);
      console.log(
        [
          label,
          fmt(s, 4),
          fmt(b, 4),
          fmt(
            s.map((si, i) => si / b[i]),
            2,
          ),
        ].join('\t'),
      );
    }
  }
  if (!args['image-dir']) rmSync(imageDir, { recursive: true });
  const tb1 = torchOf('filter_b1').map((r) => r.filter_b1);
  if (tb1.length && ITEMS.includes('filter_per_sample')) {
    const speedups = tb1.map((t, i) => t / ours.filter_per_sample[i].seconds);
    console.log(`per-sample batches: ${fmt(speedups, 2)}x PyTorch's batch-1 throughput`);
  }
  if (torchOf('stats').length) {
    const ts = torchOf('stats').map((r, i) => r.stats_per_image / ours.stats[i].seconds);
    console.log(
      `statistics: ${fmt(
        ours.stats.map((r) => 1 / r.seconds),
        2,
      )} images/s, ${fmt(ts, 2)}x PyTorch's images/s the original way`,
    );
  }
  if (torchInfo) {
    console.log(
      `PyTorch ${torchInfo?.torch_version}; BLAS: ${JSON.stringify(torchInfo?.blas_libs ?? torchInfo?.blas_info ?? '?')}`,
    );
  }
}

/** One PyTorch measurement process; undefined when no python3 with torch is found. */
function runTorch(part: string, imageDir: string): Record<string, unknown> | undefined {
  const python = [process.env.PSS_PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean) as string[];
  for (const py of python) {
    const r = spawnSync(
      py,
      [
        'scripts/reference/torch_bench.py',
        ...['--arch', arch.name, '--size', String(h), '--threads', String(threads)],
        ...['--repeats', String(repeats), '--batch', String(batch), '--what', part],
        ...['--images', imageDir, '--units', units],
      ],
      { encoding: 'utf8' },
    );
    if (r.status === 0) return JSON.parse(r.stdout.trim().split('\n').pop()!);
  }
  return undefined;
}
