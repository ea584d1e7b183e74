// The GPU measurements of issue 17, in one run (plain JavaScript over dist/: the GPU machine
// has no Node toolchain; scripts/gpu/run.sh brings Node and starts this). On --device webgpu,
// ResNet-50 with deterministic weights at 224x224:
//   1. filter saliency, batch 1 (ms);
//   2. per-sample filter saliency throughput at batches 8..128 (images/s), and the best;
//   3. input-space saliency (pss explain's graph), batch 1 (ms);
//   4. `pss stats` images/s over JPEGs it decodes (made here from a fixture photo);
// each beside PyTorch CUDA's figure on an H200 (../shared/GPU.md), with the cosine of the
// device's numbers to the CPU's on the same inputs. Writes OUT/gpu-bench.json and a table.
// --dry: the same code paths on the CPU with ResNet-18 and tiny counts (checked by npm test).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const root = resolve(import.meta.dirname, '../..');
const dist = (p) => import(join(root, 'dist', p));
const { values: opt } = parseArgs({
  options: {
    out: { type: 'string', default: process.env.OUT ?? '/tmp/pss-gpu-bench' },
    device: { type: 'string', default: 'webgpu' },
    dry: { type: 'boolean', default: false },
  },
});
const dry = opt.dry;
const device = dry ? 'cpu' : opt.device;
const { Model } = await dist('models/model.js');
const { resnet18, resnet50 } = await dist('models/resnet.js');
const { deterministicInput } = await dist('models/deterministic.js');
const { SaliencyEngine } = await dist('saliency/engine.js');
const { explain } = await dist('saliency/explain.js');
const { serializeSafeTensors } = await dist('io/safetensors.js');
const { readStats } = await dist('stats/file.js');
const { cosine } = await dist('util/vector.js');

// PyTorch CUDA on an H200, batch 1 unless said (../shared/GPU.md); goals from issue 17.
const ANCHORS = { filterMs: 16.1, inputMs: 46.4, perSampleImagesPerS: 778 };
const GOALS = { filterMs: 16, perSampleImagesPerS: 778 };
const arch = dry ? resnet18 : resnet50;
const model = Model.deterministic(arch);
const counts = dry
  ? { warm: 1, timed: 1, batches: [2], batchRuns: 1, jpegs: 6, stats: [2, 6] }
  : { warm: 3, timed: 20, batches: [8, 16, 32, 64, 128], batchRuns: 3, jpegs: 512, stats: [64, 512] };
mkdirSync(opt.out, { recursive: true });
const tmp = join(opt.out, 'work');
mkdirSync(tmp, { recursive: true });
const log = (...a) => console.log(...a);
const results = { device, model: arch.name, dry, started: new Date().toISOString(), measures: {} };
const save = () => writeFileSync(join(opt.out, 'gpu-bench.json'), `${JSON.stringify(results, null, 2)}\n`);

const image = (n, seed = 'input') => ({
  data: deterministicInput(seed, [n, 3, 224, 224]),
  shape: [n, 3, 224, 224],
});
const labels = (n) => Array.from({ length: n }, (_, i) => (i * 37) % 1000);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function timed(runs, f) {
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await f();
    ms.push(performance.now() - t);
  }
  return ms;
}
/** The CPU's numbers for the same inputs (one engine: its sessions are cached by shape). */
const cpuEngine = new SaliencyEngine(model, { device: 'cpu' });
const onCpu = (f) => f(cpuEngine);
/** Each measure on its own: a failure (out of memory at a batch, say) is recorded, not fatal. */
async function measure(name, f) {
  const t = performance.now();
  try {
    results.measures[name] = await f();
  } catch (e) {
    results.measures[name] = { error: String(e?.message ?? e).slice(0, 500) };
  }
  results.measures[name].wallS = +((performance.now() - t) / 1000).toFixed(1);
  log(name, JSON.stringify(results.measures[name]));
  save();
}

const gpu = new SaliencyEngine(model, { device });

await measure('filterSaliencyBatch1', async () => {
  const x = image(1);
  const t0 = performance.now();
  const [r] = await gpu.compute(x, labels(1));
  const firstMs = performance.now() - t0;
  await timed(counts.warm, () => gpu.compute(x, labels(1)));
  const ms = await timed(counts.timed, () => gpu.compute(x, labels(1)));
  const [c] = await onCpu((e) => e.compute(x, labels(1)));
  return {
    medianMs: +median(ms).toFixed(2),
    minMs: +Math.min(...ms).toFixed(2),
    firstRunMs: +firstMs.toFixed(0),
    anchorMs: ANCHORS.filterMs,
    goalMs: GOALS.filterMs,
    cosineToCpu: cosine(r.saliency, c.saliency),
  };
});

await measure('perSampleThroughput', async () => {
  const rows = [];
  for (const n of counts.batches) {
    const x = image(n, 'batch');
    try {
      const t0 = performance.now();
      const out = await gpu.compute(x, labels(n));
      const firstMs = performance.now() - t0;
      const ms = await timed(counts.batchRuns, () => gpu.compute(x, labels(n)));
      const row = {
        batch: n,
        imagesPerS: +((1000 * n) / median(ms)).toFixed(1),
        firstRunMs: +firstMs.toFixed(0),
      };
      // The CPU's numbers for the batch's first two images, each as its own batch of one.
      const per = 3 * 224 * 224;
      const cos = [];
      for (let i = 0; i < Math.min(2, n); i++) {
        const one = { data: x.data.subarray(i * per, (i + 1) * per), shape: [1, 3, 224, 224] };
        const [c] = await onCpu((e) => e.compute(one, [labels(n)[i]]));
        cos.push(cosine(out[i].saliency, c.saliency));
      }
      row.minCosineToCpu = Math.min(...cos);
      rows.push(row);
    } catch (e) {
      rows.push({ batch: n, error: String(e?.message ?? e).slice(0, 300) });
      break; // larger batches will not fit either
    }
    log('  batch', JSON.stringify(rows.at(-1)));
  }
  const ok = rows.filter((r) => r.imagesPerS);
  const best = ok.reduce((a, b) => (b.imagesPerS > a.imagesPerS ? b : a), ok[0]);
  return {
    rows,
    best,
    anchorImagesPerS: ANCHORS.perSampleImagesPerS,
    goalImagesPerS: GOALS.perSampleImagesPerS,
  };
});

await measure('inputSaliencyBatch1', async () => {
  const x = image(1);
  const t0 = performance.now();
  const r = await explain(gpu, x, 3);
  const firstMs = performance.now() - t0;
  await timed(counts.warm, () => explain(gpu, x, 3));
  const ms = await timed(Math.max(1, counts.timed / 2), () => explain(gpu, x, 3));
  const c = await onCpu((e) => explain(e, x, 3));
  return {
    medianMs: +median(ms).toFixed(2),
    firstRunMs: +firstMs.toFixed(0),
    anchorMs: ANCHORS.inputMs,
    cosineToCpu: cosine(r.inputGradient, c.inputGradient),
    sameTopFilters: JSON.stringify(r.boosted) === JSON.stringify(c.boosted),
  };
});
await gpu.close();
await cpuEngine.close();

await measure('statsJpegs', async () => {
  // JPEGs about ImageNet's size (500x375) and quality, made from a fixture photo: crops,
  // flips and tints, so each decodes on its own. The model's weights go to a file for the CLI.
  const { default: sharp } = await import('sharp');
  const dir = join(tmp, 'jpegs');
  mkdirSync(dir, { recursive: true });
  const photo = join(root, 'test/fixtures/images/rgb_640x427_444.jpg');
  const lines = ['path,label'];
  for (let i = 0; i < counts.jpegs; i++) {
    const file = join(dir, `img${i}.jpg`);
    let s = sharp(photo).extract({ left: (i * 7) % 140, top: (i * 3) % 52, width: 500, height: 375 });
    if (i % 2) s = s.flop();
    await s
      .modulate({ brightness: 0.8 + (i % 5) * 0.1, hue: (i * 29) % 360 })
      .jpeg({ quality: 75 + (i % 20) })
      .toFile(file);
    lines.push(`${file},${i % 1000}`);
  }
  const csv = join(dir, 'list.csv');
  writeFileSync(csv, `${lines.join('\n')}\n`);
  const weights = join(tmp, `${arch.name}.safetensors`);
  writeFileSync(
    weights,
    serializeSafeTensors(
      Object.fromEntries(
        model.params.map((p) => [p.name, { dtype: 'F32', shape: p.shape, data: model.weights.get(p.name) }]),
      ),
    ),
  );
  const stats = (n, dev) => {
    const out = join(tmp, `stats-${dev}-${n}.safetensors`);
    const args = ['stats', '--model', arch.name, '--weights', weights, '--data', csv, '--limit', String(n)];
    const t = performance.now();
    const r = spawnSync(
      process.execPath,
      [join(root, 'bin/pss.mjs'), ...args, '--out', out, '--device', dev],
      {
        encoding: 'utf8',
      },
    );
    if (r.status !== 0) throw new Error(`pss stats exited ${r.status}: ${r.stderr.slice(-400)}`);
    return { s: (performance.now() - t) / 1000, out };
  };
  const [few, many] = counts.stats;
  const a = stats(few, device);
  const b = stats(many, device);
  // Process start, model load and session creation cancel out of the difference.
  const steady = (many - few) / (b.s - a.s);
  const cpu = stats(few, 'cpu');
  const [sg, sc] = [await readStats(a.out), await readStats(cpu.out)];
  return {
    images: many,
    runS: +b.s.toFixed(2),
    imagesPerSWithStartup: +(many / b.s).toFixed(1),
    imagesPerSSteady: +steady.toFixed(1),
    cosineOfMeanToCpu: cosine(sg.acc.mean, sc.acc.mean),
    cosineOfStdToCpu: cosine(sg.acc.std(), sc.acc.std()),
  };
});

results.finished = new Date().toISOString();
save();
const m = results.measures;
const f = (v, d = 1) => (typeof v === 'number' ? v.toFixed(d) : String(v ?? '-'));
log(`\npss on ${device} (${arch.name}, 224x224) | pss | PyTorch CUDA, H200 | cosine to CPU`);
log(
  `filter saliency, batch 1 (ms) | ${f(m.filterSaliencyBatch1?.medianMs, 2)} | ${ANCHORS.filterMs} | ${f(m.filterSaliencyBatch1?.cosineToCpu, 9)}`,
);
const best = m.perSampleThroughput?.best;
log(
  `per-sample, best batch (${best?.batch}) (images/s) | ${f(best?.imagesPerS)} | ${ANCHORS.perSampleImagesPerS} (batch 128) | ${f(best?.minCosineToCpu, 9)}`,
);
log(
  `input saliency, batch 1 (ms) | ${f(m.inputSaliencyBatch1?.medianMs, 2)} | ${ANCHORS.inputMs} | ${f(m.inputSaliencyBatch1?.cosineToCpu, 9)}`,
);
log(
  `pss stats over JPEGs (images/s, steady / with startup) | ${f(m.statsJpegs?.imagesPerSSteady)} / ${f(m.statsJpegs?.imagesPerSWithStartup)} | - | ${f(m.statsJpegs?.cosineOfMeanToCpu, 9)}`,
);
