/**
 * The modern CNNs of issue 16 against PyTorch float64 on deterministic weights at 64×64
 * (fixtures: scripts/reference/make_modern_fixtures.py, test/fixtures/modern/): the layer
 * table, logits and saliency in every filter mode within assertParity's noise-floor tolerance;
 * and every conv of theirs (squeeze-excitation and depthwise ones too) turns off through the
 * conv-output mask exactly as zeroing its weights and bias does, as their linear neurons do
 * through the linear-output mask. With --units filters+neurons every aggregation of the
 * filters and the linear neurons (the classifier's; ConvNeXt's MLPs too) is checked; none has
 * attention, so --units all is the same unit set. ConvNeXt-Tiny also has `--aggregation
 * parameter` on every 997th element.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Architecture } from '../../src/models/architecture.js';
import { deterministicInput, hashUniform } from '../../src/models/deterministic.js';
import { torchHubNameProblem } from '../../src/models/download/integrity.js';
import { loadModel } from '../../src/models/load.js';
import { Model } from '../../src/models/model.js';
import { PRESETS } from '../../src/models/preprocessing-config.js';
import { TORCHVISION_WEIGHTS } from '../../src/models/torchvision-weights.js';
import { ARCHITECTURES } from '../../src/models/zoo.js';
import type { Aggregation } from '../../src/saliency/aggregation.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { explain } from '../../src/saliency/explain.js';
import { pairAndAlone } from '../helpers/batch.js';
import { assertExplainParity, assertParity, loadFixture, maxRelDiff } from '../helpers/fixtures.js';
import { maskedLogits, plainLogits, zeroUnits } from '../helpers/zero-by-hand.js';

const SIZE = 64;
const MODES: [Aggregation, string][] = [
  ['filter', 'filter'],
  ['filter-abs-mean', 'filter_abs_mean'],
  ['signed', 'signed'],
];
/** The fixture's neuron reference of each aggregation (make_modern_fixtures.py). */
const NEURON_KEY: Record<string, string> = {
  filter: 'neuron',
  'filter-abs-mean': 'neuron_abs_mean',
  signed: 'neuron_signed',
};
export const MODERN = [
  'mobilenet_v3_small',
  'mobilenet_v3_large',
  'efficientnet_b0',
  'regnet_y_400mf',
  'convnext_tiny',
];

/** The architecture at the fixtures' input size. */
const at64 = (arch: Architecture): Architecture => ({ ...arch, inputShape: [3, SIZE, SIZE] });

for (const name of MODERN) {
  const arch = ARCHITECTURES[name];
  describe(`${name} parity with PyTorch (deterministic weights, ${SIZE}x${SIZE})`, () => {
    const fx = loadFixture(`modern/${name}`);
    const model = Model.deterministic(at64(arch));
    const label = fx.get('labels').data[0];
    const shape = [1, 3, SIZE, SIZE] as const;
    const data = deterministicInput('input', shape);

    it('layer table', () => {
      const convs = JSON.parse(fx.metadata.conv_layers) as [string, number][];
      assert.deepEqual(
        model.layers.map((l) => [`${l.name}.weight`, l.filters]),
        convs,
      );
      assert.equal(model.unitCount, Number(fx.metadata.num_filters));
      const params = JSON.parse(fx.metadata.param_names) as [string, number][];
      assert.deepEqual(
        model.params.filter((p) => !p.buffer).map((p) => [p.name, p.shape.reduce((a, b) => a * b, 1)]),
        params,
      );
    });
    it("torchvision's DEFAULT weights: URL, SHA-256 prefix, eval transform", async () => {
      const w = TORCHVISION_WEIGHTS[name];
      await assert.rejects(loadModel({ model: name }), {
        message: `--weights is required for ${name}: a .safetensors or .pth file or an https URL (torchvision's ImageNet weights: ${w.url})`,
      });
      assert.equal(w.weights, fx.metadata.weights);
      assert.equal(w.url, fx.metadata.weights_url);
      assert.equal(torchHubNameProblem(w.url, `${w.sha256Prefix}${'0'.repeat(56)}`), undefined);
      assert.match(torchHubNameProblem(w.url, '0'.repeat(64)) ?? '', /promises one starting/);
      const t = JSON.parse(fx.metadata.transforms) as { resize: number[] } & Record<string, unknown>;
      const preset = PRESETS[name] as Record<string, unknown>;
      assert.deepEqual(
        {
          resize: [(preset.size as { shortest_edge: number }).shortest_edge],
          crop: [preset.crop_size],
          interpolation: preset.resample === 3 ? 'bicubic' : 'bilinear',
          mean: preset.image_mean,
          std: preset.image_std,
        },
        t,
      );
      const { resize, mean, std, resample } = arch.preprocessing as typeof arch.preprocessing & {
        resample?: number;
      };
      assert.deepEqual({ resize, mean, std }, { resize: t.resize[0], mean: t.mean, std: t.std });
      if (resample !== undefined) assert.equal(resample, preset.resample ?? 2);
    });
    it('input matches', () => {
      const sum = data.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - Number(fx.metadata.input_sum)) < 1e-6 * Number(fx.metadata.input_abs_sum));
    });
    it('logits and saliency in every filter mode', async (t) => {
      await using engine = new SaliencyEngine(model);
      for (const [mode, key] of MODES) {
        const [r] = await engine.compute({ data, shape }, [label], mode);
        if (mode === 'filter') {
          assertParity(t, 'logits', r.logits, fx.reference('logits'));
          assertParity(t, 'loss', [r.loss], fx.reference('loss'));
        }
        assertParity(t, mode, r.saliency, fx.reference(key));
      }
    });
    it('a batch of two keeps its samples apart (per-sample gradients through SE, LayerNorm, layer scale)', async () => {
      const other = deterministicInput('input-2', shape);
      const { pair, first, second } = await pairAndAlone(model, shape, data, other, [label, 7]);
      assert.ok(
        maxRelDiff(pair[0].saliency, first.saliency) < 1e-5,
        `row 0: ${maxRelDiff(pair[0].saliency, first.saliency)}`,
      );
      assert.ok(
        maxRelDiff(pair[1].saliency, second.saliency) < 1e-5,
        `row 1: ${maxRelDiff(pair[1].saliency, second.saliency)}`,
      );
      assert.ok(maxRelDiff(first.saliency, second.saliency) > 1e-2, 'the two images differ');
    });
    it('filters turn off through the conv-output mask as zeroed weights and biases do', async () => {
      // the first filter of the stem, of a depthwise conv, of each squeeze-excitation conv, of the last conv
      const pick = (re: RegExp) => model.layers.filter((l) => re.test(l.name)).map((l) => l.offset + 1);
      const off = [
        ...new Set([0, ...pick(/\.fc[12]$/).slice(0, 2), ...pick(/./).slice(-1), model.layers[2].offset + 3]),
      ];
      const masked = await maskedLogits(model, data, off);
      const zeroed = await plainLogits(zeroUnits(model, off), data);
      const plain = await plainLogits(model, data);
      assert.ok(maxRelDiff(masked, zeroed) < 1e-5, `masked vs zeroed: ${maxRelDiff(masked, zeroed)}`);
      assert.ok(maxRelDiff(plain, zeroed) > 1e-4, 'turning the filters off changes the logits');
    });
    it('filters+neurons in every aggregation: the filters as before and every neuron (its ∇W row) against PyTorch', async (t) => {
      const units = model.withUnits('filters+neurons');
      await using engine = new SaliencyEngine(units);
      for (const [mode, key] of MODES) {
        const [r] = await engine.compute({ data, shape }, [label], mode);
        const pick = (kind: string) =>
          Float64Array.from(
            units.layers
              .filter((l) => l.kind === kind)
              .flatMap((l) => Array.from({ length: l.filters }, (_, i) => r.saliency[l.offset + i])),
          );
        assertParity(t, `filters ${mode}`, pick('filter'), fx.reference(key));
        assertParity(t, `neurons ${mode}`, pick('neuron'), fx.reference(NEURON_KEY[mode]));
      }
    });
    it('--units all is filters+neurons (no attention, so no head units)', async () => {
      const units = model.withUnits('filters+neurons');
      const all = model.withUnits('all');
      assert.deepEqual(all.layers, units.layers);
      await using a = new SaliencyEngine(all);
      await using u = new SaliencyEngine(units);
      const [ra] = await a.compute({ data, shape }, [label], 'signed');
      const [ru] = await u.compute({ data, shape }, [label], 'signed');
      assert.equal(ra.saliency.length, units.unitCount);
      assert.ok(
        maxRelDiff(ra.saliency, ru.saliency) < 1e-6,
        `all vs filters+neurons: ${maxRelDiff(ra.saliency, ru.saliency)}`,
      );
    });
    if (fx.has('parameter_sub'))
      it('parameter (every 997th): |∇| of every parameter element against PyTorch', async (t) => {
        await using engine = new SaliencyEngine(model);
        const [r] = await engine.compute({ data, shape }, [label], 'parameter');
        assert.equal(r.saliency.length, Number(fx.metadata.num_params));
        const sub = Float64Array.from(fx.get('parameter_index').data, (i) => r.saliency[i]);
        assertParity(t, 'parameter (every 997th)', sub, fx.reference('parameter_sub'));
      });
    it('with filters+neurons, neurons turn off through the linear-output mask as zeroed rows and biases do', async () => {
      const units = model.withUnits('filters+neurons');
      const neurons = units.layers.filter((l) => l.kind === 'neuron');
      assert.ok(neurons.length > 0, 'the model has linear layers');
      // the same filter layers, in order (ConvNeXt interleaves its linears with them)
      assert.deepEqual(
        units.layers.filter((l) => l.kind === 'filter').map((l) => [l.param, l.filters]),
        model.layers.map((l) => [l.param, l.filters]),
      );
      // a neuron of the first linear (ConvNeXt: an MLP on channels-last pixels), of the last, and a filter
      const off = [neurons[0].offset + 2, neurons[neurons.length - 1].offset + 5, 1];
      const masked = await maskedLogits(units, data, off);
      const zeroed = await plainLogits(zeroUnits(units, off), data);
      assert.ok(maxRelDiff(masked, zeroed) < 1e-5, `masked vs zeroed: ${maxRelDiff(masked, zeroed)}`);
      assert.ok(masked[5] === 0, 'the last linear is the classifier: logit 5 is off');
    });
  });
}

const stats = (n: number) => ({
  mean: Float64Array.from({ length: n }, (_, i) => Math.fround(1e-3 * (hashUniform('stats-mean', i) + 1))),
  std: Float64Array.from({ length: n }, (_, i) => Math.fround(1e-3 * (hashUniform('stats-std', i) + 1.5))),
});

// scripts/reference/make_modern_input_saliency.py: as test/saliency/explain.test.ts, at 64×64
for (const name of MODERN) {
  describe(`explain ${name}: input gradient and Grad-CAM against PyTorch double backprop (${SIZE}x${SIZE})`, () => {
    const fx = loadFixture(`modern/input_saliency_${name}`);
    const model = Model.deterministic(at64(ARCHITECTURES[name]));
    const shape = [1, 3, SIZE, SIZE] as const;
    const image = { data: deterministicInput('input', shape), shape };

    it('input gradient (second order), Grad-CAM and the chosen filters', async (t) => {
      await using engine = new SaliencyEngine(model);
      const r = await explain(engine, image, Number(fx.metadata.label), { stats: stats(model.unitCount) });
      assertExplainParity(t, r, fx);
    });
  });
}
