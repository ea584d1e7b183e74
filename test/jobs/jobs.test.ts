/**
 * The experiments' machinery: per-sample filter masks against weights zeroed by hand,
 * parameters fed as graph inputs, the fine-tuning step's gradient against the saliency
 * engine's, the pruning orders, the CSV round trip and the summary.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PssError } from '../../src/errors.js';
import { toOnnxModel } from '../../src/graph/onnx.js';
import { parseCsv } from '../../src/jobs/csv.js';
import { finetuneFilters, layersOf, withParams } from '../../src/jobs/finetune.js';
import { forwardRunner } from '../../src/jobs/forward.js';
import { PRUNE_CSV_HEADER, type PruneRow, parsePruneCsv } from '../../src/jobs/prune-csv.js';
import { pruneOrders, randomOrder } from '../../src/jobs/prune-orders.js';
import { summarizePrune } from '../../src/jobs/prune-summary.js';
import { cosine, nearestProfiles } from '../../src/jobs/scan.js';
import { deterministicInput } from '../../src/models/deterministic.js';
import { loadModel } from '../../src/models/load.js';
import { Model } from '../../src/models/model.js';
import { onnxModel } from '../../src/models/onnx-import.js';
import { tinycnn } from '../../src/models/tinycnn.js';
import { architecture } from '../../src/models/zoo.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { buildForward } from '../../src/saliency/graph.js';
import { maxRelDiff } from '../helpers/fixtures.js';
import { plainLogits, zeroUnits } from '../helpers/zero-by-hand.js';

const tiny = Model.deterministic(tinycnn);

describe('filter masks', () => {
  it('a zero in the mask equals zeroing the filter (weights and bias) by hand, per sample', async () => {
    const per = 3 * 29 * 29;
    // conv2 (grouped, with a bias), conv3 (depthwise), conv4 (1x1, bias), conv1 and conv5.
    const sets = [[0], [16 + 3, 16 + 30], [48 + 5, 80 + 0, 80 + 47], [128 + 63, 2, 16 + 31], []];
    const n = sets.length;
    const x = deterministicInput('masks', [n, 3, 29, 29]);
    const mask = new Float32Array(n * tiny.unitCount).fill(1);
    sets.forEach((s, i) => {
      for (const f of s) mask[i * tiny.unitCount + f] = 0;
    });
    await using engine = new SaliencyEngine(tiny);
    const masked = await forwardRunner(engine, 2, { unitMask: true }).logits(x, { mask });
    for (const [i, s] of sets.entries()) {
      const byHand = await plainLogits(zeroUnits(tiny, s), x.subarray(i * per, (i + 1) * per));
      const ours = masked.subarray(i * 10, (i + 1) * 10);
      assert.ok(maxRelDiff(ours, byHand) < 1e-5, `set ${i}: ${maxRelDiff(ours, byHand)}`);
    }
    // The zeroing matters (the logits move) except for the empty set.
    const original = await plainLogits(tiny, x.subarray(0, per));
    assert.ok(maxRelDiff(masked.subarray(0, 10), original) > 1e-3);
  });

  it('on the bundled model too, and a batch mixes masks freely', async () => {
    const model = await loadModel({ model: 'fashion-cnn' });
    const x = deterministicInput('fashion', [3, 1, 28, 28]);
    const f = model.unitCount;
    const mask = new Float32Array(3 * f).fill(1);
    const off = [
      [130, 131, 200],
      [0, 17, 33],
    ];
    off.forEach((s, i) => {
      for (const j of s) mask[i * f + j] = 0;
    });
    await using engine = new SaliencyEngine(model);
    const masked = await forwardRunner(engine, 3, { unitMask: true }).logits(x, { mask });
    for (const [i, s] of [...off, []].entries()) {
      const byHand = await plainLogits(zeroUnits(model, s), x.subarray(i * 784, (i + 1) * 784));
      assert.ok(maxRelDiff(masked.subarray(i * 10, (i + 1) * 10), byHand) < 1e-5, `row ${i}`);
    }
  });

  it("turns a neuron off as zeroing its weight row and bias does (tinycnn's fc, filters+neurons)", async () => {
    const model = tiny.withUnits('filters+neurons');
    const per = 3 * 29 * 29;
    const fc = model.layers.find((l) => l.name === 'fc')!;
    assert.deepEqual([fc.offset, fc.filters, fc.kind], [192, 10, 'neuron']);
    const sets = [[192 + 3], [192 + 0, 192 + 9, 16 + 3], []];
    const x = deterministicInput('neuron-masks', [sets.length, 3, 29, 29]);
    const mask = new Float32Array(sets.length * model.unitCount).fill(1);
    sets.forEach((s, i) => {
      for (const f of s) mask[i * model.unitCount + f] = 0;
    });
    await using engine = new SaliencyEngine(model);
    const masked = await forwardRunner(engine, 3, { unitMask: true }).logits(x, { mask });
    for (const [i, s] of sets.entries()) {
      const byHand = await plainLogits(zeroUnits(model, s), x.subarray(i * per, (i + 1) * per));
      const ours = masked.subarray(i * 10, (i + 1) * 10);
      assert.ok(maxRelDiff(ours, byHand) < 1e-5, `set ${i}: ${maxRelDiff(ours, byHand)}`);
    }
    // a neuron off: its logit is exactly 0, the others unchanged
    const plain = await plainLogits(model, x.subarray(0, per));
    assert.ok(masked[3] === 0);
    assert.ok(plain[3] !== 0);
    for (const j of [0, 1, 2, 4, 9])
      assert.ok(Math.abs(masked[j] - plain[j]) < 1e-6 * Math.abs(plain[j]) + 1e-7);
  });

  it('reach every conv the forward pass uses (Inception-v3: its auxiliary head is not used)', () => {
    const inception = Model.deterministic(architecture('inception_v3'));
    const g = buildForward(inception, [1, 3, 299, 299], { unitMask: true });
    assert.deepEqual(g.unitMask?.shape, [1, 18112]);
  });

  it('turns neurons of an imported ONNX graph off (a Gemm with transB) as it does the built-in model’s', async () => {
    const { logits } = buildForward(tiny, [1, 3, 29, 29]);
    const imported = onnxModel(toOnnxModel([{ name: 'logits', value: logits }]), 't.onnx').withUnits(
      'filters+neurons',
    );
    const builtin = tiny.withUnits('filters+neurons');
    assert.deepEqual(
      imported.layers.map((l) => [l.offset, l.filters, l.kind]),
      builtin.layers.map((l) => [l.offset, l.filters, l.kind]),
    );
    const x = deterministicInput('onnx-neuron-mask', [1, 3, 29, 29]);
    const mask = new Float32Array(builtin.unitCount).fill(1);
    for (const i of [5, 192 + 2, 192 + 7]) mask[i] = 0;
    const masked = async (m: Model) => {
      await using engine = new SaliencyEngine(m);
      return await forwardRunner(engine, 1, { unitMask: true }).logits(x, { mask });
    };
    const [a, b] = [await masked(builtin), await masked(imported)];
    assert.ok(maxRelDiff(b, a) < 1e-6, `imported vs built-in: ${maxRelDiff(b, a)}`);
    assert.ok(b[2] === 0 && b[7] === 0);
  });

  it('turns filters of an imported ONNX graph off as it does the built-in model’s', async () => {
    const { logits } = buildForward(tiny, [1, 3, 29, 29]);
    const imported = onnxModel(toOnnxModel([{ name: 'logits', value: logits }]), 't.onnx');
    const x = deterministicInput('onnx-mask', [1, 3, 29, 29]);
    const mask = new Float32Array(tiny.unitCount).fill(1);
    for (const i of [0, 17, 100, 191]) mask[i] = 0;
    const masked = async (m: typeof tiny) => {
      await using engine = new SaliencyEngine(m);
      return await forwardRunner(engine, 1, { unitMask: true }).logits(x, { mask });
    };
    const [a, b] = [await masked(tiny), await masked(imported)];
    assert.ok(maxRelDiff(b, a) < 1e-6, `imported vs built-in: ${maxRelDiff(b, a)}`);
    assert.ok(maxRelDiff(b, await plainLogits(tiny, x)) > 1e-4, 'the mask changed the logits');
  });
});

describe('parameters as graph inputs', () => {
  it('fed their own values, give the constant graph’s logits; fed other values, the other model’s', async () => {
    const x = deterministicInput('inputs', [2, 3, 29, 29]);
    const names = ['conv2.weight', 'conv5.weight'];
    await using engine = new SaliencyEngine(tiny);
    const run = forwardRunner(engine, 2, { paramInputs: names });
    const own = new Map(names.map((n) => [n, tiny.weights.get(n)!]));
    const a = await run.logits(x, { params: own });
    const b = await forwardRunner(engine, 2).logits(x);
    assert.ok(maxRelDiff(a, b) < 1e-6);
    const other = new Map(names.map((n) => [n, tiny.weights.get(n)!.map((v) => v * 0.5)]));
    const c = await run.logits(x, { params: other });
    const d = await plainLogits(withParams(tiny, other, 'halved'), x.subarray(0, 3 * 29 * 29));
    assert.ok(maxRelDiff(c.subarray(0, 10), d) < 1e-5);
    assert.throws(() => buildForward(tiny, [1, 3, 29, 29], { paramInputs: ['nope.weight'] }), PssError);
  });

  for (const [what, model, filters, layers] of [
    ['filters', tiny, [2, 16 + 7, 128 + 40], ['conv1.weight', 'conv2.weight', 'conv5.weight']], // conv1:2, conv2:7, conv5:40
    ['units (a neuron too)', tiny.withUnits('filters+neurons'), [2, 192 + 4], ['conv1.weight', 'fc.weight']], // conv1:2, fc:4
  ] as const)
    it(`one SGD step moves exactly the chosen ${what}, by lr × the gradient the saliency engine sees`, async () => {
      const x = { data: deterministicInput('ft', [1, 3, 29, 29]), shape: [1, 3, 29, 29] as const };
      const lr = 0.5;
      await using engine = new SaliencyEngine(model);
      const res = await finetuneFilters(engine, x, 4, filters, { steps: 1, lr });
      assert.deepEqual([...res.params.keys()], layersOf(model, filters));
      assert.deepEqual([...res.params.keys()], layers);
      const [signed] = await engine.compute(x, [4], 'signed');
      const [abs] = await engine.compute(x, [4], 'filter');
      for (const layer of model.layers.filter((l) => res.params.has(l.param))) {
        const before = model.weights.get(layer.param)!;
        const after = res.params.get(layer.param)!;
        const size = before.length / layer.filters;
        for (let c = 0; c < layer.filters; c++) {
          const g = Array.from({ length: size }, (_, j) => (before[c * size + j] - after[c * size + j]) / lr);
          if (!(filters as readonly number[]).includes(layer.offset + c)) {
            assert.ok(
              g.every((v) => v === 0),
              `${layer.name}:${c} changed`,
            );
            continue;
          }
          const mean = g.reduce((a, b) => a + b, 0) / size;
          const meanAbs = g.reduce((a, b) => a + Math.abs(b), 0) / size;
          const i = layer.offset + c;
          assert.ok(
            Math.abs(mean - signed.saliency[i]) <= 1e-3 * Math.abs(abs.saliency[i]) + 1e-7,
            `${i} signed`,
          );
          assert.ok(Math.abs(meanAbs - abs.saliency[i]) <= 1e-3 * abs.saliency[i] + 1e-7, `${i} |g|`);
        }
      }
      assert.equal(res.history.length, 2);
      assert.ok(res.history[1].loss < res.history[0].loss, 'the loss goes down');
    });
});

describe('pruning orders', () => {
  const z = [0.5, -3, 2, 2, -0.1, 4];
  it('salient = largest z first; least-salient = the other end; ties to the lower index', () => {
    const o = pruneOrders(z, 3, 'z', () => [5, 4, 3, 2, 1]);
    assert.deepEqual(o.salient, [5, 2, 3]);
    assert.deepEqual(o['least-salient'], [1, 4, 0]);
    assert.deepEqual(o.random, [5, 4, 3]);
    const a = pruneOrders(z, 2, 'abs-z', () => []);
    assert.deepEqual(a.salient, [5, 1]);
    assert.deepEqual(a['least-salient'], [4, 0]);
  });
  it('random orders are seeded per image: reproducible, distinct, different between images', () => {
    const a = randomOrder(0, 17, 224, 10);
    assert.deepEqual(a, randomOrder(0, 17, 224, 10));
    assert.equal(new Set(a).size, 10);
    assert.notDeepEqual(a, randomOrder(0, 18, 224, 10));
    assert.notDeepEqual(a, randomOrder(1, 17, 224, 10));
  });
});

describe('results files', () => {
  const row = (image: number, strategy: PruneRow['strategy'], k: number, corrected: boolean): PruneRow => ({
    image,
    id: `dir, "with" quotes/${image}.png`,
    label: 1,
    predicted: 2,
    strategy,
    k,
    filter: 'conv1:3',
    z: 1.5,
    newPredicted: corrected ? 1 : 2,
    corrected,
    pTrue: 0.25,
    pPredicted: 0.5,
    dTrue: 0.125,
    dPredicted: -0.25,
  });
  it('CSV: quoting round trips; a cut last line is dropped', () => {
    const { rows, complete } = parseCsv('a,"b,""c"""\n1,2\n3,"x');
    assert.deepEqual(rows, [
      ['a', 'b,"c"'],
      ['1', '2'],
      ['3', 'x'],
    ]);
    assert.deepEqual(complete, [true, true, false]);
    const r = row(3, 'random', 2, true);
    const line = [
      r.image,
      `"${r.id.replace(/"/g, '""')}"`,
      1,
      2,
      'random',
      2,
      'conv1:3',
      1.5,
      1,
      1,
      0.25,
      0.5,
      0.125,
      -0.25,
    ].join(',');
    assert.deepEqual(parsePruneCsv(`${PRUNE_CSV_HEADER}\n${line}\n${line.slice(0, 20)}`), [r]);
  });
  it('the summary counts corrected images per strategy and k', () => {
    const rows = [
      row(0, 'salient', 1, true),
      row(0, 'salient', 2, true),
      row(1, 'salient', 1, false),
      row(1, 'salient', 2, true),
      row(0, 'random', 1, false),
      row(0, 'random', 2, false),
      row(1, 'random', 1, true),
      row(1, 'random', 2, false),
    ];
    const s = summarizePrune(rows, 2);
    assert.equal(s.images, 2);
    const salient = s.strategies.find((t) => t.strategy === 'salient')!;
    assert.deepEqual(salient.corrected, [1, 2]);
    assert.deepEqual(salient.fraction, [0.5, 1]);
    assert.deepEqual(s.strategies.find((t) => t.strategy === 'random')!.corrected, [1, 0]);
    assert.deepEqual(s.strategies.find((t) => t.strategy === 'least-salient')!.corrected, [0, 0]);
  });
});

describe('saliency neighbours', () => {
  it('ranks by cosine, leaves out what it is told to', () => {
    const p = (index: number, z: number[]) => ({
      index,
      id: `${index}`,
      label: 0,
      predicted: 1,
      z: Float32Array.from(z),
    });
    const cands = [p(0, [1, 0]), p(1, [1, 1]), p(2, [0, 1]), p(3, [-1, 0]), p(4, [2, 0.1])];
    assert.ok(Math.abs(cosine([1, 0], [1, 1]) - Math.SQRT1_2) < 1e-12);
    const near = nearestProfiles([1, 0], cands, 3, (c) => c.index === 0).map((n) => n.profile.index);
    assert.deepEqual(near, [4, 1, 2]);
  });
});
