/**
 * fashion-cnn, the embedded default model: its declaration matches the PyTorch twin
 * (scripts/train/fashion_cnn.py), the shipped weights (models/fashion-cnn.safetensors)
 * load, and pss's logits and filter saliency on the example images match PyTorch float64
 * (fixture from scripts/train/make_fashion_examples.py), with assertParity's tolerance
 * (test/helpers/fixtures.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseSafeTensors } from '../../src/io/safetensors.js';
import { FASHION_MNIST_CLASSES, fashionCnn } from '../../src/models/fashion.js';
import { Net } from '../../src/models/nn.js';
import { loadWeights } from '../../src/models/weights.js';
import { architecture } from '../../src/models/zoo.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { assertParity, loadFixture } from '../helpers/fixtures.js';

const WEIGHTS = 'models/fashion-cnn.safetensors';

interface ManifestEntry {
  file: string;
  index: number;
  label: number;
  labelName: string;
  predicted: number;
  predictedName: string;
  probability: number;
  default?: boolean;
}

describe('fashion-cnn architecture', () => {
  const fx = loadFixture('fashion-cnn');
  const net = new Net();
  fashionCnn.define(net, fashionCnn.defaultClasses);

  it('is registered', () => {
    assert.equal(architecture('fashion-cnn'), fashionCnn);
  });
  it('fields', () => {
    assert.equal(fashionCnn.name, 'fashion-cnn');
    assert.equal(fashionCnn.defaultClasses, 10);
    assert.deepEqual(fashionCnn.inputShape, [1, 28, 28]);
    assert.equal(fashionCnn.classifier, 'fc');
    assert.deepEqual(fashionCnn.preprocessing, { resize: 28, mean: [0.286], std: [0.353] });
    assert.match(fashionCnn.description, /Fashion-MNIST/);
  });
  it('class names', () => {
    assert.deepEqual(FASHION_MNIST_CLASSES, [
      'T-shirt/top',
      'Trouser',
      'Pullover',
      'Dress',
      'Coat',
      'Sandal',
      'Shirt',
      'Sneaker',
      'Bag',
      'Ankle boot',
    ]);
  });
  it("declares the PyTorch twin's parameters in named_parameters order", () => {
    const params = net.params.filter((p) => !p.buffer);
    assert.deepEqual(
      params.map((p) => [p.name, p.shape.reduce((a, b) => a * b, 1)]),
      JSON.parse(fx.metadata.param_names),
    );
    assert.equal(
      params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0),
      Number(fx.metadata.num_params),
    );
  });
  it('layer table', () => {
    const convs = net.params.filter((p) => p.role === 'conv');
    assert.deepEqual(
      convs.map((p) => [p.name, p.shape[0]]),
      [
        ['conv1.weight', 16],
        ['conv2.weight', 16],
        ['conv3.weight', 32],
        ['conv4.weight', 32],
        ['conv5.weight', 128],
      ],
    );
    assert.deepEqual(
      convs.map((p) => [p.name, p.shape[0]]),
      JSON.parse(fx.metadata.conv_layers),
    );
    assert.equal(
      convs.reduce((s, p) => s + p.shape[0], 0),
      Number(fx.metadata.num_filters),
    );
  });
});

describe('fashion-cnn shipped weights', () => {
  it('hold exactly the declared tensors, float32, with their metadata', () => {
    const bytes = readFileSync(WEIGHTS);
    assert.ok(bytes.length < 2 * 1024 * 1024, `${WEIGHTS} is ${bytes.length} bytes`);
    const st = parseSafeTensors(new Uint8Array(bytes));
    const net = new Net();
    fashionCnn.define(net, 10);
    assert.deepEqual([...st.tensors.keys()].sort(), net.params.map((p) => p.name).sort());
    for (const p of net.params) {
      const t = st.tensors.get(p.name)!;
      assert.equal(t.dtype, 'F32', p.name);
      assert.deepEqual(t.shape, p.shape, p.name);
    }
    assert.equal(st.metadata.arch, 'fashion-cnn');
    assert.deepEqual(JSON.parse(st.metadata.classes), FASHION_MNIST_CLASSES);
    assert.ok(Number(st.metadata.test_accuracy) >= 0.9, `test accuracy ${st.metadata.test_accuracy}`);
  });
});

describe('fashion-cnn parity with PyTorch float64 (trained weights, 12 example images)', () => {
  const fx = loadFixture('fashion-cnn');
  const labels = Array.from(fx.get('labels').data);
  const n = labels.length;
  const input = { data: Float32Array.from(fx.get('input').data), shape: [n, 1, 28, 28] as const };
  const manifest = JSON.parse(readFileSync('examples/fashion/manifest.json', 'utf8')) as ManifestEntry[];

  it('the fixture matches the examples', () => {
    assert.deepEqual(
      manifest.map((e) => e.file),
      JSON.parse(fx.metadata.files),
    );
    assert.deepEqual(
      manifest.map((e) => e.label),
      labels,
    );
    for (const e of manifest) {
      assert.ok(existsSync(`examples/fashion/${e.file}`), e.file);
      assert.ok(statSync(`examples/fashion/${e.file}`).size < 2048, e.file);
      assert.equal(e.labelName, FASHION_MNIST_CLASSES[e.label]);
      assert.equal(e.predictedName, FASHION_MNIST_CLASSES[e.predicted]);
    }
    const defaults = manifest.filter((e) => e.default);
    assert.equal(defaults.length, 1);
    assert.notEqual(defaults[0].predicted, defaults[0].label, 'the default example is misclassified');
  });

  it('logits, loss and filter saliency', async (t) => {
    const model = await loadWeights(fashionCnn, WEIGHTS);
    assert.deepEqual(model.warnings, []);
    assert.equal(model.unitCount, Number(fx.metadata.num_filters));
    await using engine = new SaliencyEngine(model);
    const results = await engine.compute(input, labels, 'filter');
    results.forEach((r, b) => {
      assertParity(t, `logits[${b}]`, r.logits, fx.reference('logits', b));
      assert.equal(r.predicted, manifest[b].predicted, `prediction of ${manifest[b].file}`);
      assertParity(t, `loss[${b}]`, [r.loss], fx.reference('loss', b));
      assertParity(t, `filter[${b}]`, r.saliency, fx.reference('filter', b));
    });
    assertParity(
      t,
      'logits (all)',
      results.flatMap((r) => Array.from(r.logits)),
      fx.reference('logits'),
    );
    assertParity(
      t,
      'filter (all)',
      results.flatMap((r) => Array.from(r.saliency)),
      fx.reference('filter'),
    );
  });
});
