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
