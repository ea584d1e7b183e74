/**
 * The ONNX parity suites' one test body (test/models/onnx-families.test.ts, onnx-patterns.test.ts):
 * each case's weightless skeletons (one per opset) rebuilt with their deterministic weights and
 * imported, against its PyTorch float64 fixture (scripts/reference/make_onnx_families.py):
 * logits, loss and conv-filter saliency, and explain's second-order input gradient where the
 * fixture holds it, all within assertParity's tolerance.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deterministicInput, hashUniform } from '../../src/models/deterministic.js';
import type { Model } from '../../src/models/model.js';
import { onnxModel } from '../../src/models/onnx-import.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { explain } from '../../src/saliency/explain.js';
import { assertParity, INPUT_COSINE, loadFixture, type Reference } from './fixtures.js';
import { convSources, loadSkeleton } from './onnx.js';

/** make_input_saliency_fixture.py's statistics, by PyTorch's filter index. */
const stat = (key: string, offset: number, i: number) => Math.fround(1e-3 * (hashUniform(key, i) + offset));

/** The reference in pss's filter order: `order[i]` is the PyTorch index of pss's filter i. */
const reordered = (ref: Reference, order: readonly number[]): Reference => ({
  ...ref,
  data: Float64Array.from(order, (j) => ref.data[j]),
});

type Shape = [number, number, number, number];

/** The deterministic input as pss is fed it (NCHW: an NHWC model's input transposed). */
function pssInput(shape: Shape, layout: string): { data: Float32Array; shape: Shape } {
  const data = deterministicInput('input', shape);
  if (layout !== 'NHWC') return { data, shape };
  const [n, h, w, c] = shape;
  const out = new Float32Array(data.length);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let k = 0; k < c; k++) out[((b * c + k) * h + y) * w + x] = data[((b * h + y) * w + x) * c + k];
  return { data: out, shape: [n, c, h, w] };
}

/** PyTorch's convs in a fixture (named_parameters order): where each one's filters start, and how many. */
export function torchConvs(
  fx: ReturnType<typeof loadFixture>,
): Map<string, { start: number; filters: number }> {
  const convs = new Map<string, { start: number; filters: number }>();
  let start = 0;
  for (const [conv, filters] of JSON.parse(fx.metadata.conv_layers) as [string, number][]) {
    convs.set(conv, { start, filters });
    start += filters;
  }
  return convs;
}

/** pss's filter i of an imported skeleton is PyTorch's order[i]: its convs in node order, from the skeleton's recipes. */
export function torchFilterOrder(
  path: string,
  model: Model,
  convs: ReadonlyMap<string, { start: number }>,
): number[] {
  return convSources(path).flatMap((conv, k) =>
    Array.from({ length: model.layers[k].filters }, (_, f) => convs.get(conv)!.start + f),
  );
}

/** One describe per case and opset: test/fixtures/DIR/NAME.safetensors and NAME-opN.skeleton.onnx.gz. */
export function onnxParitySuite(dir: string, names: readonly string[]) {
  for (const name of names) {
    const fx = loadFixture(`${dir}/${name}`);
    const opsets = JSON.parse(fx.metadata.opsets) as number[];
    const input = pssInput(JSON.parse(fx.metadata.input_shape), fx.metadata.input_layout ?? 'NCHW');
    const { shape } = input;
    const label = fx.get('labels').data[0];
    const convs = torchConvs(fx);

    for (const opset of opsets) {
      const path = `test/fixtures/${dir}/${name}-op${opset}.skeleton.onnx.gz`;
      describe(`${name} (torch.onnx opset ${opset}, ${shape[2]}x${shape[3]}) against PyTorch float64`, () => {
        // built in before() and dropped in after(): one case's weights in memory at a time
        let model: Model;
        let order: number[];
        before(() => {
          model = onnxModel(loadSkeleton(path), `${name}-op${opset}.onnx`);
          order = torchFilterOrder(path, model, convs);
        });
        after(() => {
          model = undefined as unknown as Model;
        });

        it('reads the opset and finds every conv PyTorch runs', () => {
          assert.equal(model.layers.length, convSources(path).length);
          assert.equal(model.unitCount, order.length);
          assert.ok(
            convSources(path).every((conv) => convs.has(conv)),
            'every conv of the ONNX file is a PyTorch conv',
          );
          const used = new Set(convSources(path));
          // convs missing from the export are the ones eval mode never runs (zero saliency)
          const filter = fx.get('filter').data;
          for (const [conv, { start, filters }] of [...convs].filter(([n]) => !used.has(n)))
            assert.ok(
              filter.subarray(start, start + filters).every((v) => v === 0),
              `${conv} is in PyTorch's graph but not in the ONNX file`,
            );
        });

        it('logits, loss and filter saliency', async (t) => {
          await using engine = new SaliencyEngine(model);
          const [r] = await engine.compute(input, [label]);
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
            const r = await explain(engine, input, label, { stats });
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
}
