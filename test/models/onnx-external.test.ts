/**
 * ONNX files whose tensors live in a file beside them (external data: location, offset,
 * length — what onnx.save_as_external_data and exporters of models over 2 GB write): read from
 * the model's own folder, giving what the same model with its weights inside gives, and what
 * ONNX Runtime gives loading the file itself; a location outside the folder, a missing file or
 * a range past its end is one line.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { hashUniform } from '../../src/models/deterministic.js';
import { loadModel } from '../../src/models/load.js';
import { onnxModel } from '../../src/models/onnx-import.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { assertOneLine, pss, tempDir } from '../helpers/cli.js';
import { convClassifier, hashedTensor, onnxBytes } from '../helpers/onnx.js';

const { onnx } = onnxProto;
const inline = onnxBytes({
  opset: 17,
  nodes: convClassifier('x'),
  deterministic: hashedTensor,
});

/**
 * The model with every initializer moved to `data` (one after another, 64-byte aligned),
 * `location` written into each, and `edit` applied to the entries of the first.
 */
function externalModel(
  dir: string,
  location = 'weights.bin',
  edit?: (e: Map<string, string>) => void,
  dataPath = location,
) {
  const m = onnx.ModelProto.decode(inline);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [k, t] of m.graph!.initializer!.entries()) {
    const bytes = new Uint8Array(Float32Array.from(t.floatData!).buffer);
    const pad = (64 - (offset % 64)) % 64;
    chunks.push(new Uint8Array(pad), bytes);
    offset += pad;
    const entries = new Map([
      ['location', location],
      ['offset', String(offset)],
      ['length', String(bytes.length)],
    ]);
    if (k === 0) edit?.(entries);
    offset += bytes.length;
    Object.assign(t, {
      floatData: [],
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [...entries].map(([key, value]) => ({ key, value })),
    });
  }
  const path = join(dir, 'model.onnx');
  writeFileSync(path, onnx.ModelProto.encode(m).finish());
  if (!location.startsWith('/')) writeFileSync(join(dir, dataPath), Buffer.concat(chunks));
  return path;
}

const SHAPE = [1, 3, 8, 8] as const;
const X = Float32Array.from({ length: 3 * 64 }, (_, i) => hashUniform('external-input', i));

describe('ONNX external data', () => {
  it('reads the tensors from beside the model: the logits and saliency of the same weights inside, and of ONNX Runtime', async () => {
    const path = externalModel(tempDir());
    await using a = new SaliencyEngine(await loadModel({ model: path }));
    await using b = new SaliencyEngine(onnxModel(inline, 'inline.onnx'));
    const [[ra], [rb]] = [
      await a.compute({ data: X, shape: SHAPE }, [3]),
      await b.compute({ data: X, shape: SHAPE }, [3]),
    ];
    assert.deepEqual(ra.saliency, rb.saliency);
    assert.deepEqual(ra.logits, rb.logits);
    const session = await ort.InferenceSession.create(path);
    try {
      const out = await session.run({ x: new ort.Tensor('float32', X, [...SHAPE]) });
      const ref = out.y.data as Float32Array;
      assert.ok(ra.logits.every((v, i) => Math.abs(v - ref[i]) <= 1e-6 * Math.max(1, Math.abs(ref[i]))));
    } finally {
      await session.release();
    }
  });

  it('a location in a subfolder is read; outside the folder, absolute, missing, not a file or short is one line', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'data'));
    for (const location of ['data/w.bin', 'data/../weights.bin'])
      assert.equal(pss(['inspect', '--model', externalModel(dir, location)]).code, 0, location);
    const refused = (location: string, error: RegExp, edit?: (e: Map<string, string>) => void) =>
      assertOneLine(pss(['inspect', '--model', externalModel(dir, location, edit, 'weights.bin')]), error);
    refused(
      '../outside.bin',
      /is kept in "\.\.\/outside\.bin", outside the model's folder; pss reads external data only from beside the model$/,
    );
    refused('/etc/passwd', /is kept in "\/etc\/passwd", outside the model's folder/);
    refused('gone.bin', /tensor "w:4x3x3x3" is kept in "gone\.bin", which is not beside the model/);
    refused('data', /its external data .*data is not a regular file$/);
    refused('weights.bin', /"weights\.bin" holds 744 bytes; the tensor claims bytes 0 to 99999$/, (e) =>
      e.set('length', '99999'),
    );
    refused('weights.bin', /external data offset "-4" is not a whole number$/, (e) => e.set('offset', '-4'));
  });

  it('bytes without a folder (an upload) are refused in one line', () => {
    const path = externalModel(tempDir());
    const bytes = new Uint8Array(readFileSync(path));
    assert.throws(
      () => onnxModel(bytes, 'up.onnx'),
      /tensor "w:4x3x3x3" is kept in an external file; give the model as a file path/,
    );
  });
});
