/**
 * Neurons of imported linear layers stored [in, out] (DESIGN §1.3): torch.onnx exports
 * nn.Linear on channels-last pixels and tokens as MatMul(x, Wᵀ) + Add(bias), whose neurons are
 * the weight's columns. The reduced ConvNeXt of the ONNX suite (scripts/reference/onnx_families.py)
 * at opsets 9, 13 and 17 against the built-in ConvNeXt with the same stages and weights, whose
 * filters are checked here against PyTorch float64 (and whose neurons, as convnext_tiny's, in
 * modern-parity.test.ts); a neuron turned off through the mask against its column and bias
 * zeroed by hand; a batch of two; and an imported ViT through `pss saliency`.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serializeNpy } from '../../src/io/npy.js';
import { finetuneFilters } from '../../src/jobs/finetune.js';
import { forwardRunner } from '../../src/jobs/forward.js';
import type { Architecture } from '../../src/models/architecture.js';
import { convnext_tiny, convnextDefine } from '../../src/models/convnext.js';
import { deterministicInput } from '../../src/models/deterministic.js';
import { Model } from '../../src/models/model.js';
import { onnxModel } from '../../src/models/onnx-import.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { pss, tempDir } from '../helpers/cli.js';
import { assertParity, cosine, loadFixture, maxRelDiff } from '../helpers/fixtures.js';
import {
  hashedTensor,
  loadSkeleton,
  onnxNode as node,
  onnxBytes,
  rebuildInitializer,
  skeletonRecipes,
} from '../helpers/onnx.js';
import { maskedLogits, plainLogits, zeroUnits } from '../helpers/zero-by-hand.js';

const fx = loadFixture('onnx/convnext_tiny');
const shape = JSON.parse(fx.metadata.input_shape) as [number, number, number, number];
const label = fx.get('labels').data[0];
const data = deterministicInput('input', shape);
const skeleton = (opset: number) => `test/fixtures/onnx/convnext_tiny-op${opset}.skeleton.onnx.gz`;

/** The built-in ConvNeXt with the suite's stages (onnx_families.py small_convnext), at its input size. */
const arch: Architecture = {
  ...convnext_tiny,
  name: 'convnext_suite',
  inputShape: [3, shape[2], shape[3]],
  define: convnextDefine([
    [24, 2],
    [48, 1],
    [96, 1],
    [192, 1],
  ]),
};

/** Its weights as the skeletons' recipes give them (deterministic, the layer scales 0.1 u). */
function builtin(): Model {
  const model = Model.deterministic(arch);
  const weights = new Map(model.weights);
  for (const [name, recipe] of skeletonRecipes(skeleton(17)))
    if (recipe.startsWith('affine:')) {
      const p = model.params.find((q) => q.name === name);
      assert.ok(p, `${name} is a parameter of the built-in`);
      weights.set(name, rebuildInitializer(recipe, p.shape));
    }
  return new Model(arch, 1000, weights, 'deterministic (ONNX suite recipes)');
}

/** Positions of one kind in a saliency vector, in table order. */
const ofKind = (model: Model, s: ArrayLike<number>, kind: string) =>
  Float64Array.from(
    model.layers
      .filter((l) => l.kind === kind)
      .flatMap((l) => Array.from({ length: l.filters }, (_, i) => s[l.offset + i])),
  );

describe('the built-in ConvNeXt with the suite’s stages is the PyTorch model of the fixture', () => {
  it('logits and filter saliency against PyTorch float64', async (t) => {
    await using engine = new SaliencyEngine(builtin());
    const [r] = await engine.compute({ data, shape }, [label]);
    assertParity(t, 'logits', r.logits, fx.reference('logits'));
    assertParity(t, 'filter saliency', r.saliency, fx.reference('filter'));
  });
});

for (const opset of JSON.parse(fx.metadata.opsets) as number[])
  describe(`ConvNeXt (torch.onnx opset ${opset}): MatMul + Add linears hold neurons, by column`, () => {
    let imported: Model;
    let reference: Model;
    before(() => {
      imported = onnxModel(loadSkeleton(skeleton(opset)), `convnext-op${opset}.onnx`).withUnits(
        'filters+neurons',
      );
      reference = builtin().withUnits('filters+neurons');
    });
    after(() => {
      imported = reference = undefined as unknown as Model;
    });

    it('the unit table is the built-in’s: the same layers, kinds and counts, in order', () => {
      const table = (m: Model) => m.layers.map((l) => [l.name, l.kind, l.filters]);
      assert.deepEqual(table(imported), table(reference));
      const mlp = imported.layers.filter((l) => /block\.[35]$/.test(l.name));
      assert.ok(mlp.length === 10 && mlp.every((l) => l.axis === 1 && l.bias === `${l.name}.bias`));
      assert.equal(imported.layers.at(-1)!.axis, 0, 'the classifier Gemm (transB=1) holds rows');
    });

    it('filter and neuron saliency equal the built-in’s on the same weights and input', async (t) => {
      await using a = new SaliencyEngine(imported);
      await using b = new SaliencyEngine(reference);
      for (const mode of ['filter', 'signed'] as const) {
        const [ours] = await a.compute({ data, shape }, [label], mode);
        const [theirs] = await b.compute({ data, shape }, [label], mode);
        for (const kind of ['filter', 'neuron']) {
          const x = ofKind(imported, ours.saliency, kind);
          const y = ofKind(reference, theirs.saliency, kind);
          const rel = maxRelDiff(x, y);
          t.diagnostic(
            `${mode} ${kind}s: cos ${cosine(x, y).toFixed(9)}, max rel diff ${rel.toExponential(2)}`,
          );
          // two float32 evaluations of one function: their rounding differs (measured ≤ 2e-6, the
          // fixture's float32 floor is 4e-7), what they compute must not
          assert.ok(rel < 1e-5, `${mode} ${kind}s: max rel diff ${rel}`);
        }
      }
    });

    it('a neuron turned off through the mask is its column and bias zeroed by hand', async () => {
      const first = (re: RegExp, k: number) => imported.layers.find((l) => re.test(l.name))!.offset + k;
      // neurons of a block's fc1 and fc2 (columns) and of the classifier (a row), one filter
      const off = [
        first(/^features\.1\.0\.block\.3$/, 5),
        first(/^features\.5\.0\.block\.5$/, 2),
        first(/^classifier\.2$/, label),
        3,
      ];
      const masked = await maskedLogits(imported, data, off);
      const zeroed = await plainLogits(zeroUnits(imported, off), data);
      const weightsOnly = await plainLogits(zeroUnits(imported, off, { keepBias: true }), data);
      const plain = await plainLogits(imported, data);
      assert.ok(maxRelDiff(masked, zeroed) < 1e-5, `masked vs zeroed: ${maxRelDiff(masked, zeroed)}`);
      assert.ok(maxRelDiff(plain, zeroed) > 1e-4, 'turning the units off changes the logits');
      assert.ok(maxRelDiff(weightsOnly, zeroed) > 1e-4, 'the mask comes after the bias Add');
    });

    it('a batch of two keeps its samples apart (saliency, and each image’s own units off)', async () => {
      const other = deterministicInput('input-2', shape);
      const two = {
        data: Float32Array.from([...data, ...other]),
        shape: [2, shape[1], shape[2], shape[3]] as const,
      };
      await using engine = new SaliencyEngine(imported);
      const pair = await engine.compute(two, [label, 7], 'signed');
      const [first] = await engine.compute({ data, shape }, [label], 'signed');
      const [second] = await engine.compute({ data: other, shape }, [7], 'signed');
      assert.ok(maxRelDiff(pair[0].saliency, first.saliency) < 1e-5, 'row 0 is its own image');
      assert.ok(maxRelDiff(pair[1].saliency, second.saliency) < 1e-5, 'row 1 is its own image');
      assert.ok(maxRelDiff(first.saliency, second.saliency) > 1e-2, 'the two images differ');

      const fc1 = imported.layers.find((l) => l.name === 'features.3.0.block.3')!.offset;
      const off = [[fc1 + 1], [fc1 + 2, fc1 + 3]];
      const mask = new Float32Array(2 * imported.unitCount).fill(1);
      off.forEach((row, r) => {
        for (const f of row) mask[r * imported.unitCount + f] = 0;
      });
      const masked = await forwardRunner(engine, 2, { unitMask: true }).logits(two.data, { mask });
      for (const [r, x] of [data, other].entries()) {
        await using e = new SaliencyEngine(zeroUnits(imported, off[r]));
        const zeroed = await forwardRunner(e, 1).logits(x);
        const row = masked.subarray(r * 1000, (r + 1) * 1000);
        assert.ok(maxRelDiff(row, zeroed) < 1e-5, `image ${r}: ${maxRelDiff(row, zeroed)}`);
      }
    });
  });

describe('Gemm with transB=0 and a MatMul without bias: neurons by column', () => {
  const bytes = onnxBytes({
    opset: 13,
    nodes: [
      node('Conv', ['x', 'w:4x3x3x3', 'b:4'], ['c'], [{ name: 'pads', ints: [1, 1, 1, 1], type: 7 }]),
      node('Relu', ['c'], ['r']),
      node('GlobalAveragePool', ['r'], ['gap']),
      node('Flatten', ['gap'], ['flat']),
      node('Gemm', ['flat', 'g:4x6', 'gb:6'], ['h'], [{ name: 'transB', i: 0, type: 2 }]),
      node('Relu', ['h'], ['h2']),
      node('MatMul', ['h2', 'm:6x10'], ['y']),
    ],
    deterministic: hashedTensor,
    inputs: [{ name: 'x', dims: ['N', 3, 8, 8] }],
    outputs: [{ name: 'y', dims: ['N', 10] }],
  });
  const model = onnxModel(bytes, 'columns.onnx').withUnits('filters+neurons');
  const x = deterministicInput('columns', [2, 3, 8, 8]);
  const two = { data: x, shape: [2, 3, 8, 8] as const };

  it('each holds its columns, the Gemm with its C as bias', () => {
    assert.deepEqual(
      model.layers.map((l) => [l.kind, l.filters, l.axis, l.bias]),
      [
        ['filter', 4, 0, 'b:4'],
        ['neuron', 6, 1, 'gb:6'],
        ['neuron', 10, 1, undefined],
      ],
    );
  });

  it('a neuron’s saliency is the mean over its column of |∂L/∂W| (the parameter saliency, averaged by hand)', async () => {
    await using engine = new SaliencyEngine(model);
    const units = await engine.compute(two, [1, 4], 'filter');
    const params = await engine.compute(two, [1, 4], 'parameter');
    // where each parameter's |gradient| begins in the parameter saliency
    const start = new Map<string, number>();
    let at = 0;
    for (const p of model.params.filter((q) => !q.buffer)) {
      start.set(p.name, at);
      at += p.shape.reduce((a, b) => a * b, 1);
    }
    for (const [b, r] of units.entries())
      for (const l of model.layers.filter((q) => q.kind === 'neuron')) {
        const [inputs, outputs] = l.shape;
        const byHand = Array.from({ length: outputs }, (_, j) => {
          let sum = 0;
          for (let i = 0; i < inputs; i++) sum += params[b].saliency[start.get(l.param)! + i * outputs + j];
          return sum / inputs;
        });
        const ours = r.saliency.subarray(l.offset, l.offset + l.filters);
        assert.ok(maxRelDiff(ours, byHand) < 1e-6, `${l.name}, image ${b}: ${maxRelDiff(ours, byHand)}`);
      }
  });

  it('fine-tuning a neuron moves its column only, by the learning rate times its gradient', async () => {
    await using engine = new SaliencyEngine(model);
    const image = { data: x.subarray(0, 192), shape: [1, 3, 8, 8] as const };
    const layer = model.layers[1];
    const [r] = await engine.compute(image, [1], 'filter');
    // a neuron the image uses (nonzero saliency)
    const k = Array.from({ length: layer.filters }, (_, j) => j).find(
      (j) => r.saliency[layer.offset + j] > 0,
    );
    assert.ok(k !== undefined);
    const unit = layer.offset + k;
    const lr = 0.5;
    const res = await finetuneFilters(engine, image, 1, [unit], { steps: 1, lr });
    const before = model.weights.get(layer.param)!;
    const after = res.params.get(layer.param)!;
    const [ins, outs] = layer.shape;
    let sum = 0;
    for (let i = 0; i < ins; i++)
      for (let j = 0; j < outs; j++) {
        const step = Math.abs(before[i * outs + j] - after[i * outs + j]);
        if (j !== k) assert.equal(step, 0, `W[${i}, ${j}] is not the unit's`);
        else sum += step / lr;
      }
    // the column's mean |gradient| is the unit's saliency
    const s = r.saliency[unit];
    assert.ok(Math.abs(sum / ins - s) < 1e-5 * s, `${sum / ins} vs ${s}`);
  });

  it('turning neurons off through the mask is zeroing their columns (and the Gemm’s C) by hand', async () => {
    await using engine = new SaliencyEngine(model);
    // neurons each image uses (nonzero saliency: not cut off by the ReLU after the Gemm)
    const rows = await engine.compute(two, [1, 4], 'filter');
    const used = (r: number, layer: number) => {
      const l = model.layers[layer];
      const k = Array.from({ length: l.filters }, (_, j) => l.offset + j).filter(
        (j) => rows[r].saliency[j] > 0,
      );
      assert.ok(k.length >= 2, `image ${r} uses ${l.name}`);
      return k;
    };
    // image 0: a Gemm neuron whose C is positive (so that the ReLU after it lets C through)
    const c = model.weights.get('gb:6')!;
    const positive = used(0, 1).filter((j) => c[j - model.layers[1].offset] > 0);
    assert.ok(positive.length > 0);
    const off = [[positive[0]], [used(1, 1)[1], used(1, 2)[0]]];
    const mask = new Float32Array(2 * model.unitCount).fill(1);
    off.forEach((row, r) => {
      for (const f of row) mask[r * model.unitCount + f] = 0;
    });
    const masked = await forwardRunner(engine, 2, { unitMask: true }).logits(x, { mask });
    for (const [r, units] of off.entries()) {
      const image = x.subarray(r * 192, (r + 1) * 192);
      const run = async (m: Model) => {
        await using e = new SaliencyEngine(m);
        return await forwardRunner(e, 1).logits(image);
      };
      const zeroed = await run(zeroUnits(model, units));
      const row = masked.subarray(r * 10, (r + 1) * 10);
      assert.ok(maxRelDiff(row, zeroed) < 1e-6, `image ${r}: ${maxRelDiff(row, zeroed)}`);
      assert.ok(maxRelDiff(zeroed, await run(model)) > 1e-4, 'the logits change');
      if (r === 0)
        assert.ok(
          maxRelDiff(zeroed, await run(zeroUnits(model, units, { keepBias: true }))) > 1e-4,
          'C is zeroed too',
        );
    }
  });
});

describe('an imported ViT under --units filters+neurons through pss saliency', () => {
  const dir = tempDir();
  after(() => rmSync(dir, { recursive: true, force: true }));
  it('its MLPs (MatMul on tokens) and head hold neurons; the attention projections are left out, as the notes say', () => {
    const vit = join(dir, 'vit.onnx');
    writeFileSync(vit, loadSkeleton('test/fixtures/onnx/vit_b_16-op17.skeleton.onnx.gz'));
    const input = join(dir, 'x.npy');
    const x = deterministicInput('vit-cli', [1, 3, 32, 32]);
    writeFileSync(input, serializeNpy(x, [1, 3, 32, 32]));
    const json = join(dir, 'out.json');
    const r = pss([
      'saliency',
      '--model',
      vit,
      '--input',
      input,
      '--label',
      '3',
      '--units',
      'filters+neurons',
      '--json',
      json,
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /4 linear layers are left out \(encoder\.layers\.encoder_layer_0\.self_attention, /,
    );
    const out = JSON.parse(readFileSync(json, 'utf8'));
    const model = onnxModel(readFileSync(vit), 'vit.onnx').withUnits('filters+neurons');
    // conv_proj's 64 filters; mlp.0 (256) and mlp.3 (64) of both layers; the head's 1000
    assert.deepEqual(
      model.layers.map((l) => [l.kind, l.filters, l.axis]),
      [
        ['filter', 64, 0],
        ['neuron', 256, 1],
        ['neuron', 64, 1],
        ['neuron', 256, 1],
        ['neuron', 64, 1],
        ['neuron', 1000, 0],
      ],
    );
    assert.equal(out.units, 'filters+neurons', 'the unit set is recorded');
    assert.ok(out.notes.some((n: string) => /4 linear layers are left out/.test(n)));
  });
});
