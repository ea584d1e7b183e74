/** `--preprocessing FILE|preset` and the preprocessor_config.json beside an .onnx file, as a user runs them. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pss } from '../helpers/cli.js';
import { onnxClassifier } from '../web/onnx-models.js';

const IMAGE = 'examples/fashion/bag-1884.png';
const loss = (out: string) => Number(/loss (\d+\.\d+)/.exec(out)?.[1]);

describe('--preprocessing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pss-pre-cli-'));
  const model = join(dir, 'grey.onnx');
  writeFileSync(model, onnxClassifier({ channels: 1, size: 32 }));
  const run = (...extra: string[]) =>
    pss(['saliency', '--model', model, '--image', IMAGE, '--label', '1', ...extra]);
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a 1-channel 32×32 ONNX model: assumed from its input shape, then from the file beside it, then from the flag', () => {
    const assumed = run();
    assert.equal(assumed.code, 0, assumed.stderr);
    assert.match(
      assumed.stdout,
      /note: preprocessing assumed from the input shape 1×32×32 \(resize 32 → crop 32×32, mean \[0\], std \[1\]\)/,
    );

    writeFileSync(
      join(dir, 'preprocessor_config.json'),
      JSON.stringify({ size: 32, image_mean: [0.5], image_std: [0.25] }),
    );
    const beside = run();
    assert.equal(beside.code, 0, beside.stderr);
    assert.match(
      beside.stdout,
      /note: preprocessing from preprocessor_config\.json beside grey\.onnx: resize 32 → crop 32×32, mean \[0\.5\], std \[0\.25\]/,
    );
    assert.notEqual(loss(beside.stdout), loss(assumed.stdout));

    const given = join(dir, 'other.json');
    writeFileSync(given, JSON.stringify({ resize: 40, mean: [0.2], std: [0.3] }));
    const flag = run('--preprocessing', given);
    assert.equal(flag.code, 0, flag.stderr);
    assert.ok(
      flag.stdout.includes(
        `note: preprocessing from ${given}: resize 40 → crop 32×32, mean [0.2], std [0.3]`,
      ),
      flag.stdout,
    );
  });

  it('a description that does not fit is one line, exit 1', () => {
    const bad = join(dir, 'rgb.json');
    writeFileSync(bad, JSON.stringify({ image_mean: [0.5, 0.5, 0.5], image_std: [1, 1, 1] }));
    for (const [value, message] of [
      [
        bad,
        /^pss: the preprocessing description \(.*rgb\.json\) has 3 mean and 3 std values; grey takes 1 channel\n$/,
      ],
      ['imagenet', /^pss: the imagenet transform makes RGB inputs; grey takes 1 channel \(greyscale\)\n$/],
      [
        join(dir, 'none.json'),
        /^pss: --preprocessing: .*none\.json not found \(a preprocessor_config\.json file, or a preset: imagenet, inception, [\w, ]+\)\n$/,
      ],
    ] as const) {
      const r = run('--preprocessing', value);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, message);
    }
  });
});
