/**
 * ONNX classifiers as users bring them: torchvision's classification families exported by
 * torch.onnx (PyTorch 1.13) at opsets 9, 13 and 17 with deterministic weights, against PyTorch
 * float64 (scripts/reference/make_onnx_families.py; the files are weightless skeletons that
 * test/helpers/onnx.ts rebuilds). Logits and conv-filter saliency within assertParity's
 * tolerance; for MobileNetV3, ConvNeXt and ViT also explain's second-order input gradient.
 * Sizes and the reduced transformer-era configurations: scripts/reference/onnx_families.py.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deterministicInput, hashUniform } from '../../src/models/deterministic.js';
import type { Model } from '../../src/models/model.js';
import { onnxModel } from '../../src/models/onnx-import.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { explain } from '../../src/saliency/explain.js';
import { assertParity, INPUT_COSINE, loadFixture, type Reference } from '../helpers/fixtures.js';
import { convSources, loadSkeleton } from '../helpers/onnx.js';

/** The families of the suite (each has test/fixtures/onnx/F.safetensors and one skeleton per opset). */
const FAMILIES = [
  'alexnet',
  'resnet18',
  'resnet50',
  'resnext50_32x4d',
  'wide_resnet50_2',
  'squeezenet1_1',
  'densenet121',
  'inception_v3',
  'googlenet',
  'shufflenet_v2_x0_5',
  'mobilenet_v2',
  'mobilenet_v3_small',
  'mnasnet0_5',
  'efficientnet_b0',
  'efficientnet_v2_s',
  'regnet_y_400mf',
  'convnext_tiny',
  'vit_b_16',
  'swin_t',
];

/** make_input_saliency_fixture.py's statistics, by PyTorch's filter index. */
const stat = (key: string, offset: number, i: number) => Math.fround(1e-3 * (hashUniform(key, i) + offset));

/** The reference in pss's filter order: `order[i]` is the PyTorch index of pss's filter i. */
const reordered = (ref: Reference, order: readonly number[]): Reference => ({
  ...ref,
  data: Float64Array.from(order, (j) => ref.data[j]),
});

for (const family of FAMILIES) {
  const fx = loadFixture(`onnx/${family}`);
  const opsets = JSON.parse(fx.metadata.opsets) as number[];
  const shape = JSON.parse(fx.metadata.input_shape) as [number, number, number, number];
  const label = fx.get('labels').data[0];
  const data = deterministicInput('input', shape);
  // PyTorch's convs (named_parameters order) and where each filter starts
  const torchConvs = JSON.parse(fx.metadata.conv_layers) as [string, number][];
  const start = new Map<string, number>();
  let offset = 0;
  for (const [name, filters] of torchConvs) {
    start.set(name, offset);
    offset += filters;
  }

  for (const opset of opsets) {
    const path = `test/fixtures/onnx/${family}-op${opset}.skeleton.onnx.gz`;
    describe(`${family} (torch.onnx opset ${opset}, ${shape[2]}x${shape[3]}) against PyTorch float64`, () => {
      // built in before() and dropped in after(): one family's weights in memory at a time
      let model: Model;
      let order: number[];
      before(() => {
        model = onnxModel(loadSkeleton(path), `${family}-op${opset}.onnx`);
        // pss's filter i is PyTorch's order[i]: convs in node order, from the skeleton's recipes
        order = convSources(path).flatMap((name, k) =>
          Array.from({ length: model.layers[k].filters }, (_, f) => start.get(name)! + f),
        );
      });
      after(() => {
        model = undefined as unknown as Model;
      });

      it('reads the opset and finds every conv PyTorch runs', () => {
        assert.equal(model.layers.length, convSources(path).length);
        assert.equal(model.unitCount, order.length);
        const used = new Set(convSources(path));
        // convs missing from the export are the ones eval mode never runs (zero saliency)
        const filter = fx.get('filter').data;
        for (const [name, filters] of torchConvs.filter(([n]) => !used.has(n)))
          assert.ok(
            filter.subarray(start.get(name)!, start.get(name)! + filters).every((v) => v === 0),
            `${name} is in PyTorch's graph but not in the ONNX file`,
          );
      });

      it('logits, loss and filter saliency', async (t) => {
        await using engine = new SaliencyEngine(model);
        const [r] = await engine.compute({ data, shape }, [label]);
        assertParity(t, 'logits', r.logits, fx.reference('logits'));
        assertParity(t, 'loss', [r.loss], fx.reference('loss'));
        assertParity(t, 'filter saliency', r.saliency, reordered(fx.reference('filter'), order));
      });

      if (fx.has('input_gradient'))
        it('second-order input gradient (explain)', async (t) => {
          await using engine = new SaliencyEngine(model);
          const stats = {
            mean: Float64Array.from(order, (j) => stat('stats-mean', 1, j)),
            std: Float64Array.from(order, (j) => stat('stats-std', 1.5, j)),
          };
          const r = await explain(engine, { data, shape }, label, { stats });
          assert.deepEqual(
            r.boosted.map((i) => order[i]),
            Array.from(fx.get('top').data),
            'the same top-10 filters by z',
          );
          assert.equal(r.result.predicted, Number(fx.metadata.predicted));
          assertParity(t, 'z', r.z, reordered(fx.reference('z'), order));
          assertParity(t, 'cos(z, boosted z)', [r.cos], fx.reference('cos'));
          assertParity(t, 'input gradient', r.inputGradient, fx.reference('input_gradient'), INPUT_COSINE);
        });
    });
  }
}
