/** Decoding: every format to the pixels PIL's convert('RGB') gives, and one clear error per bad file. */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { PssError } from '../../src/errors.js';
import { gifTransparentColour, loadImage } from '../../src/image/load.js';
import { preprocess } from '../../src/image/preprocess.js';
import { tempDir } from '../helpers/cli.js';
import { decoded, fixture, hasShark, IMAGES, SHARK, sha256 } from './reference.js';

const dir = tempDir();
const tmp = (name: string, data: Uint8Array | string) => {
  writeFileSync(join(dir, name), data);
  return join(dir, name);
};

/** A PNG of the given size holding almost no data: the header is all a size check reads. */
function pngHeader(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(td.length + 8);
    out.writeUInt32BE(data.length, 0);
    td.copy(out, 4);
    out.writeUInt32BE(crc32(td), 4 + td.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(64))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A PssError with one line that names the file and matches `pattern`. */
async function rejectsClearly(p: Promise<unknown>, file: string, pattern: RegExp) {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof PssError, `a PssError, got ${e.name}: ${e.message}`);
    assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
    assert.ok(e.message.includes(file), `names ${file}: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('loadImage: the pixels of PIL.Image.open(f).convert("RGB")', () => {
  for (const [file, ref] of Object.entries(decoded)) {
    if (file === 'shark') continue;
    it(file, async () => {
      const img = await loadImage(fixture(file));
      assert.equal(img.width, ref.width);
      assert.equal(img.height, ref.height);
      assert.equal(img.data.length, ref.width * ref.height * 3);
      assert.equal(sha256(img.data), ref.sha256, 'every pixel equals PIL');
    });
  }

  it('the shark photo (Adobe RGB profile, ignored as PIL does)', {
    skip: !hasShark && `${SHARK} absent`,
  }, async () => {
    const img = await loadImage(SHARK);
    assert.equal(`${img.width}×${img.height}`, `${decoded.shark.width}×${decoded.shark.height}`);
    assert.equal(sha256(img.data), decoded.shark.sha256);
  });

  it('reads bytes as well as paths', async () => {
    const bytes = new Uint8Array(readFileSync(fixture('rgb_300x200_lossy.webp')));
    const img = await loadImage(bytes);
    assert.equal(sha256(img.data), decoded['rgb_300x200_lossy.webp'].sha256);
  });

  it('the ICC fixture carries a real profile: colour management would change it', async () => {
    const managed = await sharp(fixture('icc_97x61.jpg')).raw().toBuffer();
    const img = await loadImage(fixture('icc_97x61.jpg'));
    assert.notEqual(sha256(managed), sha256(img.data));
  });

  it('EXIF orientation is applied (torchvision ignores it; autoOrient: false gives its view)', async () => {
    const oriented = await loadImage(fixture('exif6_150x100.jpg'));
    const stored = await loadImage(fixture('exif6_150x100.jpg'), { autoOrient: false });
    assert.equal(`${oriented.width}×${oriented.height}`, '100×150');
    assert.equal(`${stored.width}×${stored.height}`, '150×100');
    // orientation 6: rotate 90° clockwise to display
    let same = 0;
    for (let y = 0; y < oriented.height; y++)
      for (let x = 0; x < oriented.width; x++) {
        const o = (y * oriented.width + x) * 3;
        const s = ((stored.height - 1 - x) * stored.width + y) * 3;
        if (oriented.data[o] === stored.data[s] && oriented.data[o + 2] === stored.data[s + 2]) same++;
      }
    assert.equal(same, oriented.width * oriented.height);
  });

  it('a transparent GIF: the colour table entry of the transparent index, as PIL shows it', () => {
    const gif = new Uint8Array(readFileSync(fixture('trns_97x61.gif')));
    const colour = gifTransparentColour(gif);
    assert.ok(colour && colour.length === 3);
    assert.equal(gifTransparentColour(new Uint8Array(readFileSync(fixture('anim_97x61.gif')))), undefined);
    assert.equal(gifTransparentColour(new Uint8Array([0x47, 0x49, 0x46])), undefined);
  });
});

describe('loadImage: bad files give one clear PssError naming the file', () => {
  const jpeg = readFileSync(join(IMAGES, 'rgb_300x200.jpg'));
  const png = readFileSync(join(IMAGES, 'rgb_150x100.png'));

  it('a truncated JPEG', async () => {
    const f = tmp('half.jpg', jpeg.subarray(0, jpeg.length >> 1));
    await rejectsClearly(loadImage(f), f, /truncated or corrupt \(JPEG\): .*premature end/i);
  });
  it('a truncated PNG', async () => {
    const f = tmp('half.png', png.subarray(0, png.length >> 1));
    await rejectsClearly(loadImage(f), f, /truncated or corrupt \(PNG\)/);
  });
  it('a text file named .png', async () => {
    const f = tmp('text.png', 'hello, I am not a picture\n');
    await rejectsClearly(loadImage(f), f, /is not a JPEG, PNG, WebP, GIF or TIFF image$/);
  });
  it('an empty file', async () => {
    const f = tmp('empty.jpg', '');
    await rejectsClearly(loadImage(f), f, /is empty$/);
  });
  it('a 20000×20000 image is refused before decoding, naming its size', async () => {
    const f = tmp('huge.png', pngHeader(20000, 20000));
    const t = performance.now();
    await rejectsClearly(
      loadImage(f),
      f,
      /is 20000×20000 pixels \(400\.0 megapixels\), more than the limit of 16384×16384/,
    );
    assert.ok(performance.now() - t < 2000, 'no decoding');
  });
  it('a smaller limit, as an option', async () => {
    await rejectsClearly(
      loadImage(fixture('rgb_300x200.jpg'), { maxPixels: 10000 }),
      'rgb_300x200.jpg',
      /is 300×200 pixels \(0\.1 megapixels\), more than the limit of 100×100/,
    );
  });
  it('a format pss does not read (SVG)', async () => {
    const f = tmp('pic.svg', '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>');
    await rejectsClearly(loadImage(f), f, /is a SVG image; pss reads JPEG, PNG, WebP, GIF or TIFF images/);
  });
  it('a missing file, a directory', async () => {
    await assert.rejects(loadImage(join(dir, 'nope.jpg')), /^PssError: image file not found: .*nope\.jpg$/);
    mkdirSync(join(dir, 'd.png'));
    await assert.rejects(loadImage(join(dir, 'd.png')), /^PssError: image file is a directory/);
  });
  it('bytes are named "image" unless a name is given', async () => {
    await rejectsClearly(loadImage(new Uint8Array(0)), 'image', /^image file image is empty$/);
    await rejectsClearly(loadImage(new Uint8Array(0), { name: 'upload.jpg' }), 'upload.jpg', /is empty$/);
  });
});

describe('the pixel budget bounds what will be computed, not the file', () => {
  it('a 1×16000 PNG that the shorter-side resize would make 256×4096000 is refused from its header', async () => {
    const f = tmp('strip.png', pngHeader(1, 16000));
    const t = performance.now();
    await rejectsClearly(
      loadImage(f, { resize: 256 }),
      f,
      /is 1×16000 pixels; resizing its shorter side to 256 would make it 256×4096000 \(1048\.6 megapixels\), more than the limit of 16384×16384 \(268\.4 megapixels\)$/,
    );
    assert.ok(performance.now() - t < 2000, 'no decoding');
  });
  it('the same limit holds in preprocess, for images decoded elsewhere', () => {
    const image = { width: 1, height: 1100, data: new Uint8Array(3 * 1100) };
    const p = { resize: 4096, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
    assert.throws(
      () => preprocess(image, p, 224),
      (e: Error) =>
        e instanceof PssError &&
        /would make it 4096×4505600 \(18454\.9 megapixels\), more than the limit/.test(e.message),
    );
  });
  it('an image whose resize fits is read', async () => {
    const img = await loadImage(fixture('rgb_300x200.jpg'), { resize: 256 });
    assert.equal(img.width, 300);
  });
});
