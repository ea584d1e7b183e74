/**
 * Filter saliency against PyTorch float64 on identical weights and inputs
 * (fixtures from scripts/reference/make_fixtures.py), in every aggregation mode, with
 * assertParity's tolerance: cosine >= 0.99999 and max |difference| within K times the
 * fixture's own float32 noise floor (test/helpers/fixtures.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deterministicInput, deterministicParameter, hashUniform } from '../../src/models/deterministic.js';
import { Model } from '../../src/models/model.js';
import { resnet18, resnet50 } from '../../src/models/resnet.js';
import { tinycnn } from '../../src/models/tinycnn.js';
import { AGGREGATIONS, type Aggregation } from '../../src/saliency/aggregation.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { assertParity, loadFixture, maxRelDiff } from '../helpers/fixtures.js';

const FIXTURE_KEY: Record<Aggregation, string> = {
  filter: 'filter',
  'filter-abs-mean': 'filter_abs_mean',
  signed: 'signed',
  parameter: 'parameter',
};

describe('deterministic weights match the Python formula bit for bit', () => {
  const fx = loadFixture('deterministic_check');
  it('u(name, i)', () => {
    const idx = fx.get('u_sample_index').data;
    const ref = fx.get('u_sample').data;
    idx.forEach((i, k) => {
      assert.equal(hashUniform('conv1.weight', i), ref[k]);
    });
  });
  it('parameters', () => {
    for (const [name, shape] of [
      ['bn1.running_var', [16]],
      ['fc.weight', [10, 64]],
    ] as const) {
      assert.deepEqual(Array.from(deterministicParameter(name, shape)), Array.from(fx.get(name).data));
    }
  });
});

describe('TinyCNN parity with PyTorch (batch of 3, per sample)', () => {
  const fx = loadFixture('tinycnn');
  const model = Model.deterministic(tinycnn);
  const labels = Array.from(fx.get('labels').data);
  const input = { data: Float32Array.from(fx.get('input').data), shape: [3, 3, 29, 29] as const };

  for (const mode of Object.keys(AGGREGATIONS) as Aggregation[]) {
    it(`${mode}`, async (t) => {
      await using engine = new SaliencyEngine(model);
      const results = await engine.compute(input, labels, mode);
      results.forEach((r, i) => {
        assertParity(t, `${mode} sample ${i}`, r.saliency, fx.reference(FIXTURE_KEY[mode], i));
        assertParity(t, `logits ${i}`, r.logits, fx.reference('logits', i));
        assertParity(t, `loss ${i}`, [r.loss], fx.reference('loss', i));
      });
    });
  }

  it("filters+neurons: the filters as before, then the fc's neurons = mean |∇W row| (from the parameter reference)", async (t) => {
    const units = model.withUnits('filters+neurons');
    const trained = model.params.filter((p) => !p.buffer);
    const at = trained.findIndex((p) => p.name === 'fc.weight');
    const start = trained
      .slice(0, at)
      .reduce((n, p) => n + p.shape[0] * p.shape.slice(1).reduce((a, b) => a * b, 1), 0);
    const [rows, cols] = trained[at].shape;
    await using engine = new SaliencyEngine(units);
    const results = await engine.compute(input, labels, 'filter');
    results.forEach((r, i) => {
      assert.equal(r.saliency.length, 192 + rows);
      const param = fx.reference('parameter', i);
      const neuron = Float64Array.from({ length: rows }, (_, row) => {
        let sum = 0;
        for (let c = 0; c < cols; c++) sum += param.data[start + row * cols + c];
        return sum / cols;
      });
      assertParity(t, `filters of sample ${i}`, r.saliency.subarray(0, 192), fx.reference('filter', i));
      // the row means of the parameter reference, at its float32 noise floor
      const ref = { key: `neuron[${i}] (from parameter)`, data: neuron, floor: param.floor };
      assertParity(t, `neurons of sample ${i}`, r.saliency.subarray(192), ref);
    });
  });

  it('a batch gives the same saliency as single images', async () => {
    await using engine = new SaliencyEngine(model);
    const batched = await engine.compute(input, labels);
    for (let i = 0; i < 3; i++) {
      const per = 3 * 29 * 29;
      const [single] = await engine.compute(
        { data: input.data.subarray(i * per, (i + 1) * per), shape: [1, 3, 29, 29] },
        [labels[i]],
      );
      assert.ok(maxRelDiff(batched[i].saliency, single.saliency) < 1e-5, `sample ${i}`);
    }
  });
});

for (const [arch, fixture] of [
  [resnet18, 'resnet18'],
  [resnet50, 'resnet50'],
] as const) {
  describe(`${arch.name} parity with PyTorch (deterministic weights, 224x224)`, () => {
    const fx = loadFixture(fixture);
    const model = Model.deterministic(arch);
    const label = fx.get('labels').data[0];
    const data = deterministicInput('input', [1, 3, 224, 224]);
    const input = { data, shape: [1, 3, 224, 224] as const };

    it('layer table', () => {
      const convs = JSON.parse(fx.metadata.conv_layers) as [string, number][];
      assert.deepEqual(
        model.layers.map((l) => [l.name + '.weight', l.filters]),
        convs,
      );
      assert.equal(model.unitCount, Number(fx.metadata.num_filters));
      if (arch === resnet50) assert.deepEqual([model.layers.length, model.unitCount], [53, 26560]);
    });
    it('input matches', () => {
      const sum = data.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - Number(fx.metadata.input_sum)) < 1e-6 * Number(fx.metadata.input_abs_sum));
    });
    if (fx.has('neuron'))
      it("filters+neurons: the filter vector unchanged, then the fc's neurons (mean |∇W row|)", async (t) => {
        const units = model.withUnits('filters+neurons');
        assert.deepEqual(units.layers.slice(0, -1), model.layers);
        assert.deepEqual(
          units.layers.slice(-1).map((l) => [l.name, l.offset, l.filters, l.kind]),
          [['fc', model.unitCount, 1000, 'neuron']],
        );
        await using engine = new SaliencyEngine(units);
        const [r] = await engine.compute(input, [label], 'filter');
        assertParity(t, 'filters', r.saliency.subarray(0, model.unitCount), fx.reference('filter'));
        assertParity(t, 'neurons', r.saliency.subarray(model.unitCount), fx.reference('neuron'));
      });
    const modes = (Object.keys(AGGREGATIONS) as Aggregation[]).filter(
      (m) => m !== 'parameter' || fx.has('parameter_sub'),
    );
    for (const mode of modes) {
      it(mode, async (t) => {
        await using engine = new SaliencyEngine(model);
        const [r] = await engine.compute(input, [label], mode);
        assertParity(t, 'logits', r.logits, fx.reference('logits'));
        assertParity(t, 'loss', [r.loss], fx.reference('loss'));
        if (mode === 'parameter') {
          const idx = fx.get('parameter_index').data;
          const sub = Float64Array.from(idx, (i) => r.saliency[i]);
          assert.equal(r.saliency.length, Number(fx.metadata.num_params));
          assertParity(t, `${mode} (every 997th)`, sub, fx.reference('parameter_sub'));
        } else {
          assertParity(t, mode, r.saliency, fx.reference(FIXTURE_KEY[mode]));
        }
      });
    }
  });
}
