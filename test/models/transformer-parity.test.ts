/**
 * The transformers of issue 16 against PyTorch float64 on deterministic weights at 224×224
 * (fixtures: scripts/reference/make_transformer_fixtures.py, test/fixtures/transformers/): the
 * parameters and unit tables, torchvision's weights and eval transform, the logits, and the
 * saliency under every unit set (filters, filters+neurons, all) and filter aggregation within
 * assertParity's noise-floor tolerance, `--aggregation parameter` on every 997th element
 * (vit_b_16, swin_t); and explain's second-order input gradient.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deterministicInput, hashUniform } from '../../src/models/deterministic.js';
import { torchHubNameProblem } from '../../src/models/download/integrity.js';
import { mapHubNames } from '../../src/models/hub-names.js';
import { loadModel } from '../../src/models/load.js';
import { Model } from '../../src/models/model.js';
import { PRESETS } from '../../src/models/preprocessing-config.js';
import { TORCHVISION_WEIGHTS } from '../../src/models/torchvision-weights.js';
import { describeUnitCounts, type UnitSet } from '../../src/models/units.js';
import { ARCHITECTURES } from '../../src/models/zoo.js';
import type { Aggregation } from '../../src/saliency/aggregation.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { explain } from '../../src/saliency/explain.js';
import { pairAndAlone } from '../helpers/batch.js';
import {
  assertExplainParity,
  assertParity,
  loadFixture,
  maxRelDiff,
  type Reference,
} from '../helpers/fixtures.js';
import { maskedLogits, plainLogits, zeroUnits } from '../helpers/zero-by-hand.js';

const SIZE = 224;
const MODES: [Aggregation, string][] = [
  ['filter', 'filter'],
  ['filter-abs-mean', 'filter_abs_mean'],
  ['signed', 'signed'],
];
export const TRANSFORMERS = ['vit_b_16', 'vit_b_32', 'swin_t'];

type Fixture = ReturnType<typeof loadFixture>;
/** [weight, rows, heads (0: not an in-projection)] of every unit weight, in PyTorch's order. */
const unitParams = (fx: Fixture) => JSON.parse(fx.metadata.unit_params) as [string, number, number][];

/** The fixture's reference for --units all: units_<agg> with each in-projection's rows replaced by its heads_<agg> units. */
function allUnits(fx: Fixture, agg: string): Reference {
  const rows = fx.get(`units_${agg}`).data;
  const heads = fx.get(`heads_${agg}`).data;
  const out: number[] = [];
  let r = 0;
  let h = 0;
  for (const [, n, k] of unitParams(fx)) {
    if (k) out.push(...heads.subarray(h, (h += 3 * k)));
    else out.push(...rows.subarray(r, r + n));
    r += n;
  }
  const floor = (
    JSON.parse(fx.metadata.noise_floor) as Record<string, { rel: number; one_minus_cos: number }>
  )[`all_${agg}`];
  return {
    key: `all_${agg}`,
    data: Float64Array.from(out),
    floor: { rel: floor.rel, oneMinusCos: floor.one_minus_cos },
  };
}

for (const name of TRANSFORMERS) {
  const arch = ARCHITECTURES[name];
  describe(`${name} parity with PyTorch (deterministic weights, ${SIZE}x${SIZE})`, () => {
    const fx = loadFixture(`transformers/${name}`);
    const label = fx.get('labels').data[0];
    const shape = [1, 3, SIZE, SIZE] as const;
    const data = deterministicInput('input', shape);
    // built in before() and dropped in after(): one transformer's weights in memory at a time
    let model: Model;
    before(() => {
      model = Model.deterministic(arch);
    });
    after(() => {
      model = undefined as unknown as Model;
    });

    it('parameters and unit tables', () => {
      const params = JSON.parse(fx.metadata.param_names) as [string, number][];
      assert.deepEqual(
        model.params.filter((p) => !p.buffer).map((p) => [p.name, p.shape.reduce((a, b) => a * b, 1)]),
        params,
      );
      assert.equal(model.units, 'all', 'transformers default to every unit');
      const filters = model.withUnits('filters');
      assert.deepEqual(
        filters.layers.map((l) => [l.param, l.filters]),
        JSON.parse(fx.metadata.conv_layers),
      );
      assert.equal(filters.unitCount, Number(fx.metadata.num_filters));
      const units = unitParams(fx);
      const expected: Record<UnitSet, [string, number][]> = {
        filters: JSON.parse(fx.metadata.conv_layers),
        'filters+neurons': units.map(([p, n]) => [p, n]),
        all: units.map(([p, n, k]) => [p, k ? 3 * k : n]),
      };
      for (const set of ['filters+neurons', 'all'] as const)
        assert.deepEqual(
          model.withUnits(set).layers.map((l) => [l.param, l.filters]),
          expected[set],
          set,
        );
      const convs = new Set(expected.filters.map(([p]) => p));
      const count = (f: (u: [string, number, number]) => number) => units.reduce((s, u) => s + f(u), 0);
      const filterCount = count(([p, n]) => (convs.has(p) ? n : 0));
      const fmt = (n: number) => n.toLocaleString('en-US');
      assert.equal(
        describeUnitCounts(model.withUnits('filters+neurons').layers),
        `${fmt(filterCount)} filters, ${fmt(count(([p, n]) => (convs.has(p) ? 0 : n)))} neurons`,
      );
      assert.equal(
        describeUnitCounts(model.layers),
        `${fmt(filterCount)} filters, ${fmt(count(([p, n, k]) => (convs.has(p) || k ? 0 : n)))} neurons, ${fmt(
          count(([, , k]) => 3 * k),
        )} head units`,
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
      const { resize, mean, std, resample } = arch.preprocessing;
      assert.deepEqual({ resize, mean, std }, { resize: t.resize[0], mean: t.mean, std: t.std });
      assert.equal(resample ?? 2, preset.resample ?? 2);
      if (name.startsWith('vit_')) {
        // torchvision's ViT files predate MLPBlock's version 2: mlp.linear_1, mlp.linear_2
        const legacy = new Map(
          model.params.map((p) => [
            p.name.replace(/\.mlp\.0\./, '.mlp.linear_1.').replace(/\.mlp\.3\./, '.mlp.linear_2.'),
            { shape: p.shape, data: new Float32Array(0) },
          ]),
        );
        const { tensors, renamed } = mapHubNames(name, legacy);
        assert.equal(renamed.length, 4 * 12);
        assert.deepEqual([...tensors.keys()].sort(), model.params.map((p) => p.name).sort());
      }
    });
    it('input matches', () => {
      const sum = data.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - Number(fx.metadata.input_sum)) < 1e-6 * Number(fx.metadata.input_abs_sum));
    });
    it('logits and filter saliency (the patch embedding) in every aggregation', async (t) => {
      await using engine = new SaliencyEngine(model.withUnits('filters'));
      for (const [mode, key] of MODES) {
        const [r] = await engine.compute({ data, shape }, [label], mode);
        if (mode === 'filter') {
          assertParity(t, 'logits', r.logits, fx.reference('logits'));
          assertParity(t, 'loss', [r.loss], fx.reference('loss'));
        }
        assertParity(t, mode, r.saliency, fx.reference(key));
      }
    });
    for (const set of ['filters+neurons', 'all'] as const)
      it(`saliency of --units ${set} in every aggregation`, async (t) => {
        await using engine = new SaliencyEngine(model.withUnits(set));
        for (const [mode, key] of MODES) {
          const [r] = await engine.compute({ data, shape }, [label], mode);
          assertParity(
            t,
            `${set} ${mode}`,
            r.saliency,
            set === 'all' ? allUnits(fx, key) : fx.reference(`units_${key}`),
          );
        }
      });
    if (fx.has('parameter_sub'))
      it('parameter (every 997th): |∇| of every parameter element against PyTorch', async (t) => {
        await using engine = new SaliencyEngine(model);
        const [r] = await engine.compute({ data, shape }, [label], 'parameter');
        const params = JSON.parse(fx.metadata.param_names) as [string, number][];
        assert.equal(
          r.saliency.length,
          params.reduce((n, [, k]) => n + k, 0),
        );
        const sub = Float64Array.from(fx.get('parameter_index').data, (i) => r.saliency[i]);
        assertParity(t, 'parameter (every 997th)', sub, fx.reference('parameter_sub'));
      });
  });
}

// The smaller two (ViT-B/32, Swin-T): what the parity tests above do not show
for (const name of ['vit_b_32', 'swin_t']) {
  describe(`${name}: samples kept apart, units turned off`, () => {
    const shape = [1, 3, SIZE, SIZE] as const;
    const data = deterministicInput('input', shape);
    let model: Model;
    before(() => {
      model = Model.deterministic(ARCHITECTURES[name]);
    });
    after(() => {
      model = undefined as unknown as Model;
    });

    it('a batch of two keeps its samples apart (class token, position embedding, windows, every unit)', async () => {
      const other = deterministicInput('input-2', shape);
      const { pair, first, second } = await pairAndAlone(model, shape, data, other, [3, 7]);
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
    it('filters, q/k/v heads and neurons turn off through the unit mask as zeroed rows and biases do', async () => {
      // the patch conv's first filter; the first layer's q head 0, k head 1, v head 2; a later
      // v head; the first MLP neuron; the last unit (a class of the head)
      const heads = model.layers.filter((l) => l.kind === 'head');
      const h = heads[0].filters / 3;
      const mlp = model.layers.find((l) => l.kind === 'neuron' && /mlp\.0/.test(l.name))!;
      const off = [
        0,
        heads[0].offset,
        heads[0].offset + h + 1,
        heads[0].offset + 2 * h + 2,
        heads[3].offset + 2 * h,
        mlp.offset,
        model.unitCount - 1,
      ];
      const masked = await maskedLogits(model, data, off);
      const zeroed = await plainLogits(zeroUnits(model, off), data);
      const plain = await plainLogits(model, data);
      assert.ok(maxRelDiff(masked, zeroed) < 1e-5, `masked vs zeroed: ${maxRelDiff(masked, zeroed)}`);
      assert.ok(maxRelDiff(plain, zeroed) > 1e-4, 'turning the units off changes the logits');
    });
  });
}

/** make_modern_input_saliency.py's statistics, by filter. */
const stats = (n: number) => ({
  mean: Float64Array.from({ length: n }, (_, i) => Math.fround(1e-3 * (hashUniform('stats-mean', i) + 1))),
  std: Float64Array.from({ length: n }, (_, i) => Math.fround(1e-3 * (hashUniform('stats-std', i) + 1.5))),
});

// make_transformer_fixtures.py --what input,input-all: the second-order input gradient through
// attention (softmax, LayerNorm, GELU/Erf, MatMul) in filters mode and over every unit (the
// transformers' default); Grad-CAM at Swin's global pool input and at ViT's last ln_1 output as
// a 14×14 map of its patch tokens
for (const name of ['vit_b_16', 'swin_t']) {
  describe(`explain ${name}: input gradient against PyTorch double backprop (${SIZE}x${SIZE})`, () => {
    const shape = [1, 3, SIZE, SIZE] as const;
    const image = { data: deterministicInput('input', shape), shape };
    let model: Model;
    before(() => {
      model = Model.deterministic(ARCHITECTURES[name]);
    });
    after(() => {
      model = undefined as unknown as Model;
    });

    for (const set of ['filters', 'all'] as const)
      it(`--units ${set}: input gradient (second order), cos, the chosen units and Grad-CAM`, async (t) => {
        const fx = loadFixture(`transformers/input_saliency_${name}${set === 'all' ? '_all' : ''}`);
        const units = model.withUnits(set);
        assert.equal(fx.metadata.units, set);
        assert.equal(units.unitCount, Number(fx.metadata.num_units));
        await using engine = new SaliencyEngine(units);
        const r = await explain(engine, image, Number(fx.metadata.label), { stats: stats(units.unitCount) });
        assertExplainParity(t, r, fx);
        if (fx.has('z')) assertParity(t, 'z', r.z, fx.reference('z'));
        assert.deepEqual(r.gradcam.shape, fx.get('gradcam_pred').shape, 'Grad-CAM at the same layer');
      });
  });
}
