import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { toOnnxModel } from '../../src/graph/onnx.js';
import { loadImage } from '../../src/image/load.js';
import { preprocess } from '../../src/image/preprocess.js';
import { serializeNpy } from '../../src/io/npy.js';
import { serializeSafeTensors, type TensorToWrite } from '../../src/io/safetensors.js';
import { Model } from '../../src/models/model.js';
import { tinycnn } from '../../src/models/tinycnn.js';
import { buildForward } from '../../src/saliency/graph.js';
import { readStats } from '../../src/stats/file.js';
import { assertOneLine, pss, tempDir } from '../helpers/cli.js';
import { assertParity, loadFixture } from '../helpers/fixtures.js';

const dir = tempDir();
const path = (f: string) => join(dir, f);
const model = Model.deterministic(tinycnn);
const fx = loadFixture('tinycnn');
const input = Float32Array.from(fx.get('input').data.subarray(0, 3 * 29 * 29));

function weightsFile(name: string, edit: (t: Record<string, TensorToWrite>) => void = () => {}) {
  const tensors: Record<string, TensorToWrite> = {};
  for (const p of model.params)
    tensors[p.name] = { dtype: 'F32', shape: p.shape, data: model.weights.get(p.name)! };
  edit(tensors);
  writeFileSync(path(name), serializeSafeTensors(tensors));
  return path(name);
}

describe('pss saliency', () => {
  let base: string[];
  before(() => {
    writeFileSync(path('x.npy'), serializeNpy(input, [3, 29, 29]));
    base = [
      'saliency',
      '--model',
      'tinycnn',
      '--weights',
      weightsFile('w.safetensors'),
      '--input',
      path('x.npy'),
    ];
  });

  it('prints a summary and writes JSON that matches PyTorch', (t) => {
    const r = pss([...base, '--label', '3', '--json', path('out.json')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /tinycnn: predicted class \d+ at [\d.]+%, true class 3 — (correct|MISCLASSIFIED)/);
    assert.match(r.stdout, /Most salient filters/);
    const out = JSON.parse(readFileSync(path('out.json'), 'utf8'));
    assert.equal(out.model, 'tinycnn');
    assert.equal(out.label, 3);
    assert.equal(out.z, null);
    assert.equal(out.saliency.length, 192);
    assert.deepEqual(
      out.layers.map((l: { name: string }) => l.name),
      ['conv1', 'conv2', 'conv3', 'conv4', 'conv5'],
    );
    assertParity(t, 'filter against PyTorch', out.saliency, fx.reference('filter', 0));
    assert.equal(out.top.length, 10);
  });

  it('writes JSON to stdout with --json -', () => {
    const r = pss([...base, '--label', '3', '--json', '-', '--aggregation', 'signed']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).aggregation, 'signed');
  });

  it('--low-memory feeds the weights and gives the same saliency', () => {
    const run = (extra: string[]) => {
      const r = pss([...base, '--label', '3', '--json', '-', ...extra]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout).saliency as number[];
    };
    const [fast, low] = [run([]), run(['--low-memory'])];
    const scale = Math.max(...fast.map(Math.abs));
    fast.forEach((v, i) => {
      assert.ok(Math.abs(v - low[i]) <= 1e-5 * scale, `filter ${i}: ${v} vs ${low[i]}`);
    });
  });

  it('--help teaches: flags, defaults, examples', () => {
    const r = pss(['saliency', '--help']);
    assert.equal(r.code, 0);
    const text = r.stdout.replace(/\s+/g, ' ');
    for (const s of ['--model', '--aggregation', 'default: filter', 'Examples:'])
      assert.ok(text.includes(s), s);
  });

  describe('bad input: one line naming the problem, exit 1, nothing written', () => {
    it('a missing input file', () => {
      assertOneLine(
        pss([...base.slice(0, -1), path('nope.npy'), '--label', '1']),
        /input file not found: .*nope\.npy/,
      );
    });
    it('a missing weights file', () => {
      const args = [...base];
      args[4] = path('nope.safetensors');
      assertOneLine(pss([...args, '--label', '1']), /weights file not found/);
    });
    it('a .npy of integers', () => {
      const i32 = Buffer.from(serializeNpy(input, [3, 29, 29]));
      i32.write("'<i4'", i32.indexOf("'<f4'"));
      writeFileSync(path('i32.npy'), i32);
      assertOneLine(
        pss([...base.slice(0, -1), path('i32.npy'), '--label', '1']),
        /dtype "<i4" is not supported; pss reads floating-point arrays \(float32, float64 or float16\)/,
      );
    });
    it('a .npy of the wrong shape', () => {
      writeFileSync(path('flat.npy'), serializeNpy(input, [input.length]));
      assertOneLine(
        pss([...base.slice(0, -1), path('flat.npy'), '--label', '1']),
        /shape \[2523\]; expected \[3, H, W\]/,
      );
    });
    it('a file that is not .npy', () => {
      writeFileSync(path('text.npy'), 'hello');
      assertOneLine(pss([...base.slice(0, -1), path('text.npy'), '--label', '1']), /not a NumPy \.npy file/);
    });
    it('a label out of range', () => {
      const r = pss([...base, '--label', '10', '--json', path('never.json')]);
      assertOneLine(r, /label 10 is out of range: tinycnn has classes 0\.\.9/);
      assert.equal(existsSync(path('never.json')), false);
    });
    it('a label that is not a number', () => {
      assertOneLine(pss([...base, '--label', 'shark']), /--label must be an integer/);
    });
    it('a weights file missing a tensor', () => {
      const w = weightsFile('missing.safetensors', (t) => delete t['fc.bias']);
      const args = [...base];
      args[4] = w;
      assertOneLine(pss([...args, '--label', '1']), /lacks 1 tinycnn tensor\(s\): "fc\.bias" \[10\]/);
    });
    it('a weights file with a wrong shape', () => {
      const w = weightsFile('shape.safetensors', (t) => {
        t['conv1.weight'] = {
          dtype: 'F32',
          shape: [16, 3, 9],
          data: t['conv1.weight'].data.subarray(0, 432),
        };
      });
      const args = [...base];
      args[4] = w;
      assertOneLine(
        pss([...args, '--label', '1']),
        /"conv1\.weight" .* has shape \[16, 3, 9\]; tinycnn expects \[16, 3, 3, 3\]/,
      );
    });
    it('a corrupt safetensors header', () => {
      const bytes = Buffer.from(readFileSync(path('w.safetensors')));
      bytes.writeUInt32LE(0xfffffff, 0);
      writeFileSync(path('corrupt.safetensors'), bytes);
      const args = [...base];
      args[4] = path('corrupt.safetensors');
      assertOneLine(pss([...args, '--label', '1']), /not a valid safetensors file: header length/);
    });
    it('an unknown model', () => {
      const args = [...base];
      args[2] = 'resnet99';
      assertOneLine(pss([...args, '--label', '1']), /unknown model "resnet99"; built-in models: resnet18/);
    });
    it('a missing required flag', () => {
      assertOneLine(pss(base), /label/i);
    });
  });
});

describe('pss saliency --image', () => {
  const image = 'test/fixtures/images/rgb_300x200.jpg';
  let w10: string;
  let w1000: string;
  const run = (weights: string, ...rest: string[]) =>
    pss(['saliency', '--model', 'tinycnn', '--weights', weights, ...rest]);
  before(() => {
    w10 = weightsFile('image-w10.safetensors');
    const m1000 = Model.deterministic(tinycnn, 1000);
    const tensors: Record<string, TensorToWrite> = {};
    for (const p of m1000.params)
      tensors[p.name] = { dtype: 'F32', shape: p.shape, data: m1000.weights.get(p.name)! };
    writeFileSync(path('image-w1000.safetensors'), serializeSafeTensors(tensors));
    w1000 = path('image-w1000.safetensors');
  });

  it("preprocesses with the architecture's transform: the same result as --input of that tensor", async () => {
    const x = preprocess(await loadImage(image), tinycnn.preprocessing, [29, 29]);
    writeFileSync(path('image.npy'), serializeNpy(x.data, x.shape));
    const a = run(w10, '--image', image, '--label', '3', '--json', '-');
    const b = run(w10, '--input', path('image.npy'), '--label', '3', '--json', '-');
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const [ja, jb] = [JSON.parse(a.stdout), JSON.parse(b.stdout)];
    assert.deepEqual(ja.saliency, jb.saliency);
    assert.equal(ja.loss, jb.loss);
    assert.equal('labelName' in ja, false, 'no class names for a 10-class model');
  });

  it('takes ImageNet class names when the model has 1000 classes; JSON and summary name them', () => {
    const r = run(w1000, '--image', image, '--label', 'Great_White_Shark', '--json', path('names.json'));
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(readFileSync(path('names.json'), 'utf8'));
    assert.equal(out.label, 2);
    assert.equal(out.labelName, 'great white shark');
    assert.equal(out.logits.length, 1000);
    assert.equal(typeof out.predictedName, 'string');
    assert.match(
      r.stdout,
      new RegExp(`predicted .+ \\(${out.predicted}\\) at [\\d.]+%, true great white shark \\(2\\)`),
    );
    const byIndex = run(w1000, '--image', image, '--label', '2', '--json', '-');
    assert.equal(JSON.parse(byIndex.stdout).labelName, 'great white shark');
  });

  describe('bad input: one line naming the problem, exit 1', () => {
    it('both --image and --input, or neither', () => {
      writeFileSync(path('any.npy'), serializeNpy(input, [3, 29, 29]));
      assertOneLine(
        run(w10, '--image', image, '--input', path('any.npy'), '--label', '1'),
        /--image and --input are alternatives: give only one/,
      );
      assertOneLine(run(w10, '--label', '1'), /no image: give an image file with --image .*or .* --input/);
    });
    it('an image file that is not an image, a truncated one, a missing one', () => {
      writeFileSync(path('text.png'), 'not a picture');
      assertOneLine(
        run(w10, '--image', path('text.png'), '--label', '1'),
        /image file .*text\.png is not a JPEG/,
      );
      const jpeg = readFileSync(image);
      writeFileSync(path('cut.jpg'), jpeg.subarray(0, 5000));
      assertOneLine(
        run(w10, '--image', path('cut.jpg'), '--label', '1'),
        /image file .*cut\.jpg is truncated or corrupt \(JPEG\)/,
      );
      assertOneLine(
        run(w10, '--image', path('nope.jpg'), '--label', '1'),
        /image file not found: .*nope\.jpg/,
      );
    });
    it('an ambiguous or unknown class name', () => {
      assertOneLine(
        run(w1000, '--image', image, '--label', 'shark'),
        /"shark" is ambiguous: .*"great white shark" \(2\), "tiger shark" \(3\)/,
      );
      assertOneLine(run(w1000, '--image', image, '--label', 'goldfsh'), /did you mean "goldfish" \(1\)\?/);
    });
    it('a class name for a model that is not a 1000-class one', () => {
      assertOneLine(
        run(w10, '--image', image, '--label', 'great white shark'),
        /--label must be an integer >= 0, got "great white shark" \(class names .* tinycnn has 10 classes\)/,
      );
    });
  });
});

describe('pss saliency --stats, ONNX models', () => {
  const statsFile = path('tinycnn-stats.safetensors');
  const w = () => weightsFile('w-stats.safetensors');
  const imageArgs = ['--input', path('x.npy'), '--label', '3'];

  before(() => {
    writeFileSync(path('x.npy'), serializeNpy(input, [3, 29, 29]));
    const r = pss([
      'stats',
      '--model',
      'tinycnn',
      '--weights',
      w(),
      '--data',
      'test/fixtures/stats-images',
      '--out',
      statsFile,
    ]);
    assert.equal(r.code, 0, r.stderr);
  });

  it('standardises with the statistics and ranks by z (or |z|)', async () => {
    const r = pss([
      'saliency',
      '--model',
      'tinycnn',
      '--weights',
      w(),
      ...imageArgs,
      '--stats',
      statsFile,
      '--json',
      '-',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.standardized, true);
    assert.equal(out.statistics.count, 20);
    const stats = await readStats(statsFile);
    const std = stats.acc.std();
    const i = out.top[0].index;
    const z = (out.saliency[i] - stats.acc.mean[i]) / (std[i] <= 1e-14 ? 1 : std[i]);
    assert.ok(Math.abs(out.z[i] - z) < 1e-9);
    assert.equal(Math.max(...out.z), out.top[0].z);
    const abs = JSON.parse(
      pss([
        'saliency',
        '--model',
        'tinycnn',
        '--weights',
        w(),
        ...imageArgs,
        '--stats',
        statsFile,
        '--rank',
        'abs-z',
        '--json',
        '-',
      ]).stdout,
    );
    assert.equal(Math.max(...abs.z.map(Math.abs)), Math.abs(abs.top[0].z));
    const text = pss([
      'saliency',
      '--model',
      'tinycnn',
      '--weights',
      w(),
      ...imageArgs,
      '--stats',
      statsFile,
    ]).stdout;
    assert.match(text, /z-score against 20 validation images/);
  });

  it('refuses statistics of another aggregation or other weights', () => {
    let r = pss([
      'saliency',
      '--model',
      'tinycnn',
      '--weights',
      w(),
      ...imageArgs,
      '--stats',
      statsFile,
      '--aggregation',
      'signed',
    ]);
    assertOneLine(r, /holds filter statistics; this run uses --aggregation signed/);
    const other = weightsFile('other.safetensors', (t) => {
      t['fc.bias'] = { ...t['fc.bias'], data: (t['fc.bias'].data as Float32Array).map((v) => v + 1) };
    });
    r = pss(['saliency', '--model', 'tinycnn', '--weights', other, ...imageArgs, '--stats', statsFile]);
    assertOneLine(r, /was computed for tinycnn with other weights/);
  });

  it('runs an ONNX classifier file and refuses one with unknown operators', (t) => {
    const { logits } = buildForward(model, [1, 3, 29, 29]);
    writeFileSync(path('tiny.onnx'), toOnnxModel([{ name: 'logits', value: logits }]));
    const r = pss(['saliency', '--model', path('tiny.onnx'), ...imageArgs, '--json', '-']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.saliency.length, 192);
    assert.equal(out.batchNormFolded, false);
    assertParity(t, 'filter against PyTorch', out.saliency, fx.reference('filter', 0));
    // Rename an op type in place (same length keeps the protobuf valid).
    const bytes = Buffer.from(
      readFileSync(path('tiny.onnx')).toString('latin1').replaceAll('Relu', 'Frob'),
      'latin1',
    );
    writeFileSync(path('frob.onnx'), bytes);
    assertOneLine(
      pss(['saliency', '--model', path('frob.onnx'), ...imageArgs]),
      /operators pss cannot differentiate: Frob/,
    );
  });
});
