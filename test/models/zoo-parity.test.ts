/**
 * The architectures beyond ResNet against torchvision: every registered architecture declares
 * torchvision's state_dict (names, shapes, order), and VGG-19, DenseNet-121, Inception-v3 and
 * MobileNetV2 match PyTorch float64 on deterministic weights (fixtures from
 * scripts/reference/make_fixtures.py), with assertParity's tolerance (test/helpers/fixtures.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Graph } from '../../src/graph/graph.js';
import type { Architecture } from '../../src/models/architecture.js';
import { densenet121 } from '../../src/models/densenet.js';
import { deterministicInput } from '../../src/models/deterministic.js';
import { inception_v3 } from '../../src/models/inception.js';
import { mobilenet_v2 } from '../../src/models/mobilenet.js';
import { Model } from '../../src/models/model.js';
import { Net } from '../../src/models/nn.js';
import { vgg11, vgg19 } from '../../src/models/vgg.js';
import { ARCHITECTURES } from '../../src/models/zoo.js';
import { OPS } from '../../src/ops/index.js';
import type { Aggregation } from '../../src/saliency/aggregation.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { assertParity, loadFixture } from '../helpers/fixtures.js';

const declared = (arch: Architecture) => {
  const net = new Net();
  arch.define(net, arch.defaultClasses);
  return net.params;
};

describe("every architecture declares torchvision's state_dict", () => {
  // {arch: [[name, shape], ...]}, state_dict order without num_batches_tracked
  const ref = JSON.parse(readFileSync('test/fixtures/zoo_state_dicts.json', 'utf8')) as Record<
    string,
    [string, number[]][]
  >;
  it('the fixture covers the registry', () => {
    assert.deepEqual(Object.keys(ref).sort(), Object.keys(ARCHITECTURES).sort());
  });
  for (const [name, arch] of Object.entries(ARCHITECTURES)) {
    it(name, () => {
      assert.deepEqual(
        declared(arch).map((p) => [p.name, p.shape]),
        ref[name],
      );
    });
  }
  it('conv and filter counts', () => {
    const counts = (arch: Architecture) => {
      const convs = declared(arch).filter((p) => p.role === 'conv');
      return [convs.length, convs.reduce((s, p) => s + p.shape[0], 0)];
    };
    assert.deepEqual(counts(vgg19), [16, 5504]);
    assert.deepEqual(counts(densenet121), [120, 10240]);
    assert.deepEqual(counts(inception_v3), [96, 18112]);
    assert.deepEqual(counts(ARCHITECTURES.resnet50), [53, 26560]);
  });
});

describe("VGG's AdaptiveAvgPool2d((7, 7))", () => {
  const logitsShape = (size: number) => {
    const graph = new Graph(OPS);
    const net = new Net({ graph, param: (p) => graph.input(p.name, p.shape) });
    return vgg11.define(net, 1000)(graph.input('input', [1, 3, size, size])).shape;
  };
  it('is the identity at 224 and an even average pool at 448', () => {
    assert.deepEqual(logitsShape(224), [1, 1000]);
    assert.deepEqual(logitsShape(448), [1, 1000]);
  });
  it('refuses a size it cannot pool evenly, naming it', () => {
    assert.throws(() => logitsShape(64), /64x64 input gives a 2x2 feature map/);
  });
});

const MODES: [Aggregation, string][] = [
  ['filter', 'filter'],
  ['filter-abs-mean', 'filter_abs_mean'],
  ['signed', 'signed'],
];

for (const arch of [vgg19, densenet121, inception_v3, mobilenet_v2]) {
  const size = arch.inputShape[1];
  describe(`${arch.name} parity with PyTorch (deterministic weights, ${size}x${size})`, () => {
    const fx = loadFixture(arch.name);
    const model = Model.deterministic(arch);
    const label = fx.get('labels').data[0];
    const shape = [1, 3, size, size] as const;
    const data = deterministicInput('input', shape);

    it('layer table', () => {
      const convs = JSON.parse(fx.metadata.conv_layers) as [string, number][];
      assert.deepEqual(
        model.layers.map((l) => [`${l.name}.weight`, l.filters]),
        convs,
      );
      assert.equal(model.unitCount, Number(fx.metadata.num_filters));
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
        // Inception-v3's AuxLogits is not run in eval mode: its filters have zero saliency.
        for (const l of model.layers.filter((l) => l.name.startsWith('AuxLogits.')))
          assert.ok(
            r.saliency.subarray(l.offset, l.offset + l.filters).every((v) => v === 0),
            l.name,
          );
      }
    });
  });
}
