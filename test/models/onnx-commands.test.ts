/**
 * Everything else keeps working for an imported ONNX model: a torch.onnx ConvNeXt (opset 17:
 * LayerNormalization, Erf, layer scales; the parity suite's skeleton) through stats, saliency,
 * explain, prune, neighbors and finetune, as a user runs them.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import { hashUniform } from '../../src/models/deterministic.js';
import { pss, tempDir } from '../helpers/cli.js';
import { loadSkeleton } from '../helpers/onnx.js';

describe('an imported ONNX ConvNeXt through every command', () => {
  const dir = tempDir();
  after(() => rmSync(dir, { recursive: true, force: true }));
  const model = join(dir, 'convnext.onnx');
  writeFileSync(model, loadSkeleton('test/fixtures/onnx/convnext_tiny-op17.skeleton.onnx.gz'));
  const data = join(dir, 'images');
  const image = join(data, 'n01', 'img0.png');
  const stats = join(dir, 'stats.safetensors');
  const ok = (r: ReturnType<typeof pss>) => {
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const common = ['--model', model];

  it('stats over an ImageFolder, then saliency and explain with them', async () => {
    // two classes of two 40x40 photos each (the folders' sorted names are classes 0 and 1)
    for (const [c, cls] of ['n01', 'n02'].entries())
      for (let i = 0; i < 2; i++) {
        mkdirSync(join(data, cls), { recursive: true });
        const pixels = Buffer.from(
          Uint8Array.from({ length: 40 * 40 * 3 }, (_, k) =>
            Math.floor((256 * (hashUniform(`img${c}${i}`, k) + 1)) / 2),
          ),
        );
        await sharp(pixels, { raw: { width: 40, height: 40, channels: 3 } })
          .png()
          .toFile(join(data, cls, `img${i}.png`));
      }
    ok(pss(['stats', ...common, '--data', data, '--out', stats]));
    assert.ok(existsSync(stats));
    assert.match(
      ok(pss(['saliency', ...common, '--image', image, '--label', '0', '--stats', stats])),
      /loss/,
    );
    const out = join(dir, 'explain');
    ok(pss(['explain', ...common, '--image', image, '--label', '0', '--stats', stats, '--out-dir', out]));
    assert.ok(readdirSync(out).length > 0);
  });

  it('prune, neighbors and finetune', () => {
    const pruned = join(dir, 'prune');
    ok(pss(['prune', ...common, '--data', data, '--stats', stats, '--k', '2', '--out', pruned]));
    assert.ok(readdirSync(pruned).length > 0);
    ok(
      pss([
        'neighbors',
        ...common,
        '--data',
        data,
        '--image',
        image,
        '--label',
        '0',
        '--stats',
        stats,
        '--n',
        '2',
      ]),
    );
    ok(
      pss([
        'finetune',
        ...common,
        '--data',
        data,
        '--image',
        image,
        '--label',
        '0',
        '--stats',
        stats,
        '--steps',
        '1',
      ]),
    );
  });
});
