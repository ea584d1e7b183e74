import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { serializeNpy } from '../../src/io/npy.js';
import { Model } from '../../src/models/model.js';
import { serializeSafeTensors, type TensorToWrite } from '../../src/models/safetensors.js';
import { tinycnn } from '../../src/models/tinycnn.js';
import { pss, tempDir } from '../helpers/cli.js';
import { cosine, loadFixture } from '../helpers/fixtures.js';

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

/** Asserts a one-line user error naming the problem, exit code 1, and no stack trace. */
function assertUserError(r: ReturnType<typeof pss>, pattern: RegExp) {
  assert.equal(r.code, 1, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0], /^pss: /);
  assert.match(lines[0], pattern);
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

  it('prints a summary and writes JSON that matches PyTorch', () => {
    const r = pss([...base, '--label', '3', '--json', path('out.json')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /tinycnn: predicted class \d+, true class 3/);
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
    assert.ok(cosine(out.saliency, fx.get('filter').data.subarray(0, 192)) > 0.99999);
    assert.equal(out.top.length, 10);
  });

  it('writes JSON to stdout with --json -', () => {
    const r = pss([...base, '--label', '3', '--json', '-', '--aggregation', 'signed']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).aggregation, 'signed');
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
      assertUserError(
        pss([...base.slice(0, -1), path('nope.npy'), '--label', '1']),
        /input file not found: .*nope\.npy/,
      );
    });
    it('a missing weights file', () => {
      const args = [...base];
      args[4] = path('nope.safetensors');
      assertUserError(pss([...args, '--label', '1']), /weights file not found/);
    });
    it('a .npy of the wrong dtype', () => {
      const f64 = Buffer.from(serializeNpy(input, [3, 29, 29]));
      f64.write("'<f8'", f64.indexOf("'<f4'"));
      writeFileSync(path('f64.npy'), f64);
      assertUserError(pss([...base.slice(0, -1), path('f64.npy'), '--label', '1']), /dtype <f8 .*float32/);
    });
    it('a .npy of the wrong shape', () => {
      writeFileSync(path('flat.npy'), serializeNpy(input, [input.length]));
      assertUserError(
        pss([...base.slice(0, -1), path('flat.npy'), '--label', '1']),
        /shape \[2523\]; expected \[3, H, W\]/,
      );
    });
    it('a file that is not .npy', () => {
      writeFileSync(path('text.npy'), 'hello');
      assertUserError(
        pss([...base.slice(0, -1), path('text.npy'), '--label', '1']),
        /not a NumPy \.npy file/,
      );
    });
    it('a label out of range', () => {
      const r = pss([...base, '--label', '10', '--json', path('never.json')]);
      assertUserError(r, /label 10 is out of range: tinycnn has classes 0\.\.9/);
      assert.equal(existsSync(path('never.json')), false);
    });
    it('a label that is not a number', () => {
      assertUserError(pss([...base, '--label', 'shark']), /--label must be an integer/);
    });
    it('a weights file missing a tensor', () => {
      const w = weightsFile('missing.safetensors', (t) => delete t['fc.bias']);
      const args = [...base];
      args[4] = w;
      assertUserError(pss([...args, '--label', '1']), /lacks 1 tinycnn tensor\(s\): "fc\.bias" \[10\]/);
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
      assertUserError(
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
      assertUserError(pss([...args, '--label', '1']), /not a valid safetensors file: header length/);
    });
    it('an unknown model', () => {
      const args = [...base];
      args[2] = 'resnet99';
      assertUserError(pss([...args, '--label', '1']), /unknown model "resnet99"; built-in models: resnet18/);
    });
    it('a missing required flag', () => {
      assertUserError(pss(base), /label/i);
    });
  });
});
