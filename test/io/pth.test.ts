/**
 * PyTorch checkpoints (src/io/pth.ts, pickle.ts) and the authors' statistics
 * (src/stats/authors.ts). Fixtures: test/fixtures/pth, made by
 * scripts/reference/make_pth_fixtures.py with PyTorch 1.13.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { zipSync } from 'fflate';
import { PssError } from '../../src/errors.js';
import { serializeNpy } from '../../src/io/npy.js';
import { PickleError, RefusedGlobalError, unpickle } from '../../src/io/pickle.js';
import {
  isTorchCheckpoint,
  isTuple,
  PyDict,
  type PyValue,
  readCheckpoint,
  stateDictTensors,
  TorchTensor,
} from '../../src/io/pth.js';
import { parseSafeTensors, serializeSafeTensors, type TensorToWrite } from '../../src/io/safetensors.js';
import { Model } from '../../src/models/model.js';
import { tinycnn } from '../../src/models/tinycnn.js';
import { loadWeights } from '../../src/models/weights.js';
import { architecture } from '../../src/models/zoo.js';
import { AUTHORS_COUNT, archFromFileName, authorsStats, readAnyStats } from '../../src/stats/authors.js';
import { resolveStats } from '../../src/stats/resolve.js';
import { pss, tempDir } from '../helpers/cli.js';
import { assertParity, loadFixture } from '../helpers/fixtures.js';
import { serveBytes, startServer, type TestServer } from '../helpers/http-server.js';

const FX = 'test/fixtures/pth';
const fx = (name: string) => join(FX, name);
const bytesOf = (name: string) => new Uint8Array(readFileSync(fx(name)));
const REF = '../shared/reference-data/stats';
const EVIL_MARKER = '/tmp/pss-pth-evil-marker';
/** A string of code points < 256 as bytes (pickles written by hand). */
const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Asserts a PssError with a one-line message matching every pattern. */
function throwsUser(f: () => unknown, ...patterns: RegExp[]) {
  assert.throws(f, (e: Error) => {
    assert.ok(e instanceof PssError, `a PssError, got ${e.stack}`);
    assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
    for (const re of patterns) assert.match(e.message, re);
    return true;
  });
}

async function rejectsUser(p: Promise<unknown>, ...patterns: RegExp[]) {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof PssError, `a PssError, got ${e.stack}`);
    assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
    for (const re of patterns) assert.match(e.message, re);
    return true;
  });
}

const get = (v: PyValue, ...path: (string | number)[]): PyValue => {
  let cur = v;
  for (const k of path) cur = cur instanceof PyDict ? cur.get(k)! : (cur as PyValue[])[k as number];
  return cur;
};

// ---- the containers and the values ------------------------------------------------------------

describe('readCheckpoint', () => {
  const st = parseSafeTensors(bytesOf('small.safetensors'));
  const expected = JSON.parse(st.metadata.expected);

  /** Compares a loaded value with the fixture's JSON form; tensors by bytes with the safetensors export. */
  function same(actual: PyValue, exp: unknown, path: string) {
    if (exp !== null && typeof exp === 'object' && 'tensor' in exp) {
      const e = exp as { tensor: string; dtype: string; shape: number[] };
      assert.ok(actual instanceof TorchTensor, `${path} is a tensor`);
      assert.equal(`torch.${actual.dtype}`, e.dtype, `${path} dtype`);
      assert.deepEqual(actual.shape, e.shape, `${path} shape`);
      const ref = st.tensors.get(e.tensor);
      if (ref)
        assert.deepEqual(actual.bytes(), ref.bytes, `${path}: the same bytes as the safetensors export`);
      else assert.ok(['int16', 'int8'].includes(actual.dtype), `${path} is in the export`);
      return;
    }
    if (exp !== null && typeof exp === 'object' && 'bigint' in exp) {
      assert.equal(actual, BigInt((exp as { bigint: string }).bigint), path);
      return;
    }
    if (exp !== null && typeof exp === 'object' && 'bytes' in exp) {
      assert.deepEqual(actual, Uint8Array.from((exp as { bytes: number[] }).bytes), path);
      return;
    }
    if (Array.isArray(exp)) {
      assert.ok(Array.isArray(actual), `${path} is a list or tuple`);
      assert.equal(actual.length, exp.length, `${path} length`);
      for (const [i, x] of exp.entries()) same(actual[i], x, `${path}[${i}]`);
      return;
    }
    if (exp !== null && typeof exp === 'object') {
      assert.ok(actual instanceof PyDict, `${path} is a dict`);
      assert.deepEqual([...actual.keys()], Object.keys(exp), `${path} keys in order`);
      for (const [k, x] of Object.entries(exp)) same(actual.get(k)!, x, `${path}.${k}`);
      return;
    }
    assert.equal(actual, exp, path);
  }

  for (const file of ['small.pth', 'small_legacy.pth', 'small_cuda.pth']) {
    it(`${file} holds exactly the tensors and values PyTorch saved`, () => {
      const bytes = bytesOf(file);
      assert.ok(isTorchCheckpoint(bytes));
      const v = readCheckpoint(bytes, file);
      same(v, expected, file);
      const t = (k: string) => get(v, 'tensors', k) as TorchTensor;
      // strided views are materialised as PyTorch shows them
      assert.equal(t('transposed').isContiguous(), false);
      assert.deepEqual([...t('transposed').toFloat64()].slice(0, 4), [
        ...[0, 6, 12, 18].map((i) => Math.fround(i * Math.fround(0.37) - 2.5)),
      ]);
      assert.deepEqual([...t('expanded').toFloat64()], [1, 2, 3, 1, 2, 3]);
      assert.deepEqual([...t('int16').toFloat64()], [-300, 300]);
      assert.deepEqual([...t('int8').toFloat64()], [-128, 127]);
      assert.deepEqual([...t('int64').toFloat64()], [-(2 ** 40), 0, 7, 2 ** 53 - 1]);
      assert.deepEqual([...t('half').toFloat32()].slice(0, 5), [0, -0, 1, -2.5, 65504]);
      assert.equal(t('param').isParameter, true);
      // storage shared by two tensors: one storage object
      assert.equal(t('transposed').storage, t('base').storage);
      assert.equal(t('base').device, file === 'small_cuda.pth' ? 'cuda:0' : 'cpu');
      // tuples stay tuples, lists lists
      assert.ok(isTuple(get(v, 'meta', 'shape')));
      assert.ok(isTuple(get(v, 'meta', 'size')));
      assert.ok(!isTuple(get(v, 'meta', 'flags')));
      assert.ok(isTuple(get(v, 'meta', 'nested', 'a', 2)));
      assert.equal(get(v, 'meta', 'device'), 'cuda:0');
      assert.equal(get(v, 'meta', 'dtype'), 'torch.float16');
    });
  }

  it('reads a state dict, wrapped or not, without num_batches_tracked', () => {
    const sd = stateDictTensors(readCheckpoint(bytesOf('small.pth'), 'small.pth'), 'small.pth');
    assert.deepEqual(
      [...sd.keys()],
      [
        'conv1.weight',
        'bn1.weight',
        'bn1.bias',
        'bn1.running_mean',
        'bn1.running_var',
        'conv2.weight',
        'conv2.bias',
        'fc.weight',
        'fc.bias',
      ],
    );
    const wrapped = readCheckpoint(bytesOf('tinycnn_wrapped_legacy.pth'), 'w');
    const names = [...stateDictTensors(wrapped, 'w').keys()];
    assert.equal(names[0], 'conv1.weight', 'the module. prefix is removed');
    throwsUser(
      () => stateDictTensors(get(wrapped, 'epoch'), 'x.pth'),
      /x\.pth holds no state dict: .* it holds 3$/,
    );
  });

  it('refuses pickles that call anything outside the allow-list, and runs nothing', () => {
    rmSync(EVIL_MARKER, { force: true });
    for (const [file, global] of [
      ['evil_zip.pth', 'os.system'],
      ['evil_legacy.pth', 'os.system'],
      ['evil_proto4.pth', 'posix.system'],
    ]) {
      throwsUser(
        () => readCheckpoint(bytesOf(file), `weights file ${file}`),
        new RegExp(
          `^refusing to load weights file ${file}: it calls ${global.replace('.', '\\.')}, which pss does not run`,
        ),
      );
    }
    assert.equal(existsSync(EVIL_MARKER), false);
    // any global, anywhere in the file: builtins.eval in a zip archive
    const pkl = latin1("\x80\x02cbuiltins\neval\nX\x04\x00\x00\x00'hi'\x85R.");
    const zip = zipSync({ 'a/data.pkl': pkl, 'a/version': latin1('3\n') }, { level: 0 });
    throwsUser(() => readCheckpoint(zip, 'e.pth'), /it calls builtins\.eval, which pss does not run/);
    // a whole pickled model gets a hint
    const model = latin1('\x80\x02ctorchvision.models.resnet\nResNet\n)\x81.');
    throwsUser(
      () => readCheckpoint(model, 'm.pth'),
      /torchvision\.models\.resnet\.ResNet, which pss does not run .*save model\.state_dict\(\) instead/,
    );
  });

  it('a truncated or damaged file is one clear error', () => {
    const zip = bytesOf('small.pth');
    const legacy = bytesOf('small_legacy.pth');
    const cases: [Uint8Array, RegExp][] = [
      [zip.subarray(0, zip.length >> 1), /zip archive is damaged .*truncated\?/],
      [zip.subarray(0, zip.length - 10), /zip archive is damaged/],
      [zip.subarray(0, 30), /zip archive is damaged/],
      [legacy.subarray(0, 200), /the pickle ends early .*truncated/],
      [legacy.subarray(0, legacy.length >> 1), /truncated/],
      [
        legacy.subarray(0, legacy.length - 3),
        /storage \S+ needs \d+ bytes, the file has \d+ left; truncated\?/,
      ],
      [new Uint8Array([0x80, 0x02, 0x4b, 0x01, 0x2e]), /without PyTorch's magic number/],
      [zipSync({ 'x/other.txt': new Uint8Array(3) }), /no <archive>\/data\.pkl/],
      [zipSync({ 'x/data.pkl': new Uint8Array([0x80, 0x02, 0xff]) }), /unknown pickle opcode 0xff/],
      [latin1('<!doctype html>'), /neither a zip archive nor a pickle/],
    ];
    for (const [bytes, re] of cases)
      throwsUser(
        () => readCheckpoint(bytes, 'weights file w.pth'),
        /^weights file w\.pth is not a valid PyTorch checkpoint: /,
        re,
      );
  });

  /** A zip checkpoint of one float32 tensor: a storage of `elements`, the view `size`, `stride` (pickle ints). */
  const oneTensor = (elements: number, size: string, stride: string) =>
    zipSync({
      'a/data.pkl': latin1(
        '\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n' +
          `X\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x02tQK\x00${size}\x85${stride}\x85\x89tR.`,
      ),
      'a/data/0': new Uint8Array(4 * elements),
    });

  it('a tensor that lies outside its storage is an error, not a read out of bounds', () => {
    const t = readCheckpoint(oneTensor(2, 'K\x03', 'K\x01'), 'o.pth') as TorchTensor;
    throwsUser(
      () => t.bytes(),
      /o\.pth is not a valid PyTorch checkpoint: a tensor of shape \[3\] .* storage of 2 elements/,
    );
    assert.deepEqual(
      [...(readCheckpoint(oneTensor(3, 'K\x03', 'K\x01'), 'o.pth') as TorchTensor).toFloat64()],
      [0, 0, 0],
    );
  });

  it('memory bombs are refused: a huge stride-0 view, a zip entry that expands 1000-fold', () => {
    const t = readCheckpoint(oneTensor(1, 'J\x00\xe1\xf5\x05', 'K\x00'), 'b.pth') as TorchTensor;
    assert.deepEqual(t.shape, [100_000_000]);
    throwsUser(
      () => t.bytes(),
      /a strided tensor of 100000000 elements over a storage of 1; pss does not expand it/,
    );
    const zip = zipSync(
      { 'a/data.pkl': latin1('\x80\x02K\x01.'), 'a/data/0': new Uint8Array(20 << 20) },
      { level: 9 },
    );
    assert.ok(zip.length < 1 << 20);
    throwsUser(
      () => readCheckpoint(zip, 'z.pth'),
      /the zip entry a\/data\/0 would expand \d+ bytes to 20971520/,
    );
  });
});

describe('unpickle', () => {
  const run = (s: string | number[]) =>
    unpickle(typeof s === 'string' ? latin1(s) : new Uint8Array(s), {
      resolveGlobal: () => undefined,
    }).value;

  it('reads the values of protocols 0–5', () => {
    assert.deepEqual(run('\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x07.'), 7);
    assert.equal(run('I42\n.'), 42);
    assert.equal(run('I01\n.'), true);
    assert.equal(run('L-12345678901234567890L\n.'), -12345678901234567890n);
    assert.equal(run('F2.5\n.'), 2.5);
    assert.equal(run([0x47, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18, 0x2e]), Math.PI);
    assert.equal(run([0x8a, 0x02, 0xff, 0x7f, 0x2e]), 32767);
    assert.equal(run([0x8a, 0x01, 0xff, 0x2e]), -1);
    assert.equal(run([0x4a, 0xfe, 0xff, 0xff, 0xff, 0x2e]), -2);
    assert.deepEqual(run('(K\x01K\x02l.'), [1, 2]);
    const self = run(']q\x00(K\x01h\x00e.') as PyValue[];
    assert.equal(self.length, 2);
    assert.equal(self[1], self, 'a list may hold itself through the memo');
    assert.deepEqual([...(run('\x8f(K\x01K\x01\x90.') as Set<number>)], [1]);
    assert.deepEqual([...(run('(U\x02hiK\x01d.') as PyDict)], [['hi', 1]]);
    assert.deepEqual(run('C\x02ab.'), latin1('ab'));
  });

  it('refuses opcodes that create objects or reach outside the file', () => {
    for (const [pickle, name] of [
      ['(iposix\nsystem\n.', 'INST'],
      ['(o.', 'OBJ'],
      ['\x82\x01.', 'EXT1'],
      ['\x97.', 'NEXT_BUFFER'],
      ["S'x'\n.", 'STRING'],
    ])
      assert.throws(() => run(pickle), new RegExp(`pickle opcode ${name} .*which pss does not interpret`));
    assert.throws(() => run('cos\nsystem\n.'), RefusedGlobalError);
  });

  it('malformed pickles are errors', () => {
    for (const p of ['h\x05.', 'a.', 'K\x01t.', '(K\x01.', '', 'X\xff\xff\xff\x7f', ')R.', 'K\x01K\x02R.'])
      assert.throws(() => run(p), PickleError, JSON.stringify(p));
  });
});

// ---- weights ------------------------------------------------------------------------------------

describe('loadWeights from .pth', () => {
  const reference = Model.deterministic(tinycnn);

  it("loads TinyCNN's torch.save'd state dict (zip) to the deterministic weights", async () => {
    const model = await loadWeights(tinycnn, fx('tinycnn.pth'));
    assert.equal(model.weightsHash(), reference.weightsHash());
    assert.equal(model.source, `weights file ${fx('tinycnn.pth')}`);
  });

  it('loads a legacy-format training checkpoint ({"model": state dict of a DataParallel model})', async () => {
    const model = await loadWeights(tinycnn, fx('tinycnn_wrapped_legacy.pth'));
    assert.equal(model.weightsHash(), reference.weightsHash());
  });

  it('a safetensors file whose header length starts like a pickle (0x80 0x02) is still safetensors', async () => {
    const tensors: Record<string, TensorToWrite> = {};
    for (const p of reference.params)
      tensors[p.name] = { dtype: 'F32', shape: p.shape, data: reference.weights.get(p.name)! };
    const headerLength = (b: Uint8Array) =>
      Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
    const base = headerLength(serializeSafeTensors(tensors, { pad: '' }));
    const bytes = serializeSafeTensors(tensors, { pad: 'x'.repeat(0x10280 - base) });
    assert.equal(headerLength(bytes), 0x10280);
    assert.deepEqual([...bytes.subarray(0, 2)], [0x80, 0x02]);
    assert.equal(isTorchCheckpoint(bytes), false);
    const file = join(tempDir(), 'w.pth');
    writeFileSync(file, bytes);
    assert.equal((await loadWeights(tinycnn, file)).weightsHash(), reference.weightsHash());
  });

  it('a checkpoint of another network is a clear error', async () => {
    await rejectsUser(loadWeights(tinycnn, fx('small.pth')), /small\.pth lacks \d+ tinycnn tensor\(s\)/);
  });

  describe('from a URL', () => {
    let server: TestServer;
    const cacheDir = tempDir();
    const pth = bytesOf('tinycnn.pth');
    const prefix = sha256(pth).slice(0, 8);
    before(async () => {
      server = await startServer();
      server.route(`/models/tinycnn-${prefix}.pth`, serveBytes(pth));
      server.route('/models/tinycnn-00000000.pth', serveBytes(pth));
      server.route('/models/page.pth', serveBytes(latin1('<!doctype html><title>x</title>')));
      server.route('/models/evil.pth', serveBytes(bytesOf('evil_proto4.pth')));
    });
    after(() => server.close());
    const opts = () => ({ cacheDir });
    const cached = () => readdirSync(join(cacheDir, 'downloads')).filter((f) => !f.endsWith('.lock'));

    it("works as torchvision's URLs do (the name's hash prefix is checked)", async () => {
      const url = `${server.url}/models/tinycnn-${prefix}.pth`;
      const model = await loadWeights(tinycnn, url, opts());
      assert.equal(model.weightsHash(), reference.weightsHash());
      assert.equal(model.source, `weights ${url}`);
    });

    it('refuses and deletes a download whose hash does not match its name, or that is no checkpoint', async () => {
      const before = cached();
      await rejectsUser(
        loadWeights(tinycnn, `${server.url}/models/tinycnn-00000000.pth`, opts()),
        /refused and deleted: its SHA-256 is [0-9a-f]{64}, but its file name promises one starting 00000000 /,
      );
      await rejectsUser(
        loadWeights(tinycnn, `${server.url}/models/page.pth`, opts()),
        /is not a valid PyTorch checkpoint: it is neither a zip archive nor a pickle; the download was deleted/,
      );
      assert.deepEqual(cached(), before);
    });

    it('deletes a download it refuses to unpickle (it would run code): nothing stays in the cache', async () => {
      const before = cached();
      await rejectsUser(
        loadWeights(tinycnn, `${server.url}/models/evil.pth`, opts()),
        /refusing to load .*the download was deleted/,
      );
      assert.deepEqual(cached(), before);
    });
  });
});

// ---- the authors' statistics ---------------------------------------------------------------------

const haveRef = existsSync(REF);

describe("the original authors' statistics", { skip: haveRef ? false : `${REF} is absent` }, () => {
  const reference: Record<
    string,
    Record<
      'mean' | 'std',
      { dtype: string; length: number; sha256: string; sum: string; samples: [number, string][] }
    >
  > = JSON.parse(readFileSync(fx('authors_stats.json'), 'utf8'));
  const lengths: Record<string, number> = {
    resnet50: 26560,
    vgg19: 5504,
    densenet121: 10240,
    inception_v3: 18112,
  };

  it('the reference covers every file', () => {
    assert.deepEqual(
      Object.keys(reference).sort(),
      readdirSync(REF)
        .filter((f) => f.endsWith('.pth'))
        .sort(),
    );
  });

  for (const arch of Object.keys(lengths)) {
    const name = `ImageNet_val_saliency_stat_${arch}_filter_wise.pth`;
    it(`${arch}: the values torch.load returns, as pss Statistics`, () => {
      const bytes = new Uint8Array(readFileSync(join(REF, name)));
      const root = readCheckpoint(bytes, name);
      for (const key of ['mean', 'std'] as const) {
        const t = get(root, key) as TorchTensor;
        const ref = reference[name][key];
        assert.equal(`torch.${t.dtype}`, ref.dtype);
        assert.equal(t.numel, lengths[arch]);
        assert.equal(t.device, 'cuda:0');
        assert.equal(sha256(t.bytes()), ref.sha256, 'bit for bit');
        const v = t.toFloat64();
        for (const [i, x] of ref.samples) assert.equal(v[i], Number(x));
        const sum = v.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - Number(ref.sum)) <= 1e-12 * Math.abs(Number(ref.sum)));
      }
      const stats = authorsStats(bytes, join(REF, name));
      assert.equal(stats.meta.model, arch);
      assert.equal(stats.meta.weightsHash, 'unknown');
      assert.equal(stats.meta.aggregation, 'filter-abs-mean');
      assert.equal(stats.meta.filters, lengths[arch]);
      assert.match(stats.meta.dataset, /original PSS authors' statistics from ImageNet_val/);
      assert.equal(stats.acc.count, AUTHORS_COUNT);
      const mean = (get(root, 'mean') as TorchTensor).toFloat64();
      const std = (get(root, 'std') as TorchTensor).toFloat64();
      assert.deepEqual(stats.acc.mean, mean);
      const back = stats.acc.std();
      for (let i = 0; i < std.length; i++)
        assert.ok(Math.abs(back[i] - std[i]) <= 4e-16 * std[i], `std[${i}] ${back[i]} vs ${std[i]}`);
    });
  }

  it('names the architecture from the file name only when it is one of the four', () => {
    assert.equal(
      archFromFileName('/x/ImageNet_val_saliency_stat_inception_v3_filter_wise.pth'),
      'inception_v3',
    );
    assert.equal(archFromFileName('vgg19_bn_stats.pth'), undefined);
    assert.equal(archFromFileName('myresnet500.pth'), undefined);
    assert.equal(archFromFileName('stats.pth'), undefined);
  });

  describe('--stats', () => {
    const resnetStats = join(REF, 'ImageNet_val_saliency_stat_resnet50_filter_wise.pth');
    const vggStats = join(REF, 'ImageNet_val_saliency_stat_vgg19_filter_wise.pth');
    /** checkStatsFor reads only these of a model; VGG-19's 143M deterministic weights would take long. */
    const vggLike = (name: string) =>
      ({
        name,
        unitCount: 5504,
        units: 'filters',
        arch: architecture('vgg19'),
        weightsHash: () => 'f'.repeat(64),
      }) as unknown as Model;

    it("accepts them for the architecture they name, with any weights (hash 'unknown')", async () => {
      const model = Model.deterministic(architecture('resnet50'));
      const r = await resolveStats(resnetStats, model, 'filter-abs-mean');
      assert.equal(r!.stats.meta.model, 'resnet50');
      assert.equal(r!.stats.acc.mean.length, model.unitCount);
      await rejectsUser(
        resolveStats(resnetStats, model, 'filter'),
        /holds filter-abs-mean statistics; this run uses --aggregation filter$/,
      );
    });

    it('checks the filter count and the architecture', async () => {
      await rejectsUser(
        resolveStats(resnetStats, Model.deterministic(tinycnn), 'filter-abs-mean'),
        /_resnet50_filter_wise\.pth has statistics for 26560 filters; tinycnn has 192$/,
      );
      await rejectsUser(
        resolveStats(vggStats, vggLike('vgg19_bn'), 'filter-abs-mean'),
        /_vgg19_filter_wise\.pth holds statistics for vgg19; this is vgg19_bn$/,
      );
    });

    it('a file name without an architecture is taken for --model', async () => {
      const path = join(tempDir(), 'stats.pth');
      copyFileSync(vggStats, path);
      assert.equal((await readAnyStats(path)).meta.model, 'unknown');
      const r = await resolveStats(path, vggLike('vgg19_bn'), 'filter-abs-mean');
      assert.equal(r!.stats.meta.model, 'vgg19_bn');
    });
  });
});

// ---- the command line ----------------------------------------------------------------------------

describe('pss saliency --weights x.pth', () => {
  const dir = tempDir();
  const path = (f: string) => join(dir, f);
  const model = Model.deterministic(tinycnn);
  const input = Float32Array.from(
    loadFixture('tinycnn')
      .get('input')
      .data.subarray(0, 3 * 29 * 29),
  );
  const run = (weights: string, ...extra: string[]) =>
    pss([
      'saliency',
      '--model',
      'tinycnn',
      '--weights',
      weights,
      '--input',
      path('x.npy'),
      '--label',
      '3',
      '--json',
      '-',
      ...extra,
    ]);

  before(() => {
    writeFileSync(path('x.npy'), serializeNpy(input, [3, 29, 29]));
    const tensors: Record<string, TensorToWrite> = {};
    for (const p of model.params)
      tensors[p.name] = { dtype: 'F32', shape: p.shape, data: model.weights.get(p.name)! };
    writeFileSync(path('w.safetensors'), serializeSafeTensors(tensors));
  });

  it('gives exactly the saliency of the same weights as safetensors', (t) => {
    const st = run(path('w.safetensors'));
    assert.equal(st.code, 0, st.stderr);
    const want = JSON.parse(st.stdout);
    assertParity(t, 'filter against PyTorch', want.saliency, loadFixture('tinycnn').reference('filter', 0));
    for (const file of ['tinycnn.pth', 'tinycnn_wrapped_legacy.pth']) {
      const r = run(fx(file));
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.equal(out.weights, `weights file ${fx(file)}`);
      assert.deepEqual(out.saliency, want.saliency, file);
      assert.deepEqual(out.logits, want.logits, file);
      assert.equal(out.loss, want.loss);
    }
  });

  it('a hostile checkpoint is refused in one line, and nothing runs', () => {
    rmSync(EVIL_MARKER, { force: true });
    const r = run(fx('evil_zip.pth'));
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^pss: refusing to load weights file .*evil_zip\.pth: it calls os\.system, which pss does not run .*\n$/,
    );
    assert.equal(existsSync(EVIL_MARKER), false);
  });

  it("the authors' statistics of another architecture: one line", { skip: !haveRef }, () => {
    const r = run(
      fx('tinycnn.pth'),
      '--aggregation',
      'filter-abs-mean',
      '--stats',
      join(REF, 'ImageNet_val_saliency_stat_vgg19_filter_wise.pth'),
    );
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^pss: \S+_vgg19_filter_wise\.pth has statistics for 5504 filters; tinycnn has 192\n$/,
    );
  });
});

describe('hostile structure: one line, no hang', () => {
  it('a zip directory that claims 2^32-1 entries is refused at once', () => {
    // "PK\3\4", a zip64 end-of-directory record claiming 2^32-1 entries, its locator, the end record
    const zip = new Uint8Array(4 + 56 + 20 + 22);
    const v = new DataView(zip.buffer);
    v.setUint32(0, 0x04034b50, true);
    v.setUint32(4, 0x06064b50, true);
    v.setUint32(36, 0xffffffff, true);
    v.setUint32(60, 0x07064b50, true);
    v.setUint32(68, 4, true);
    v.setUint32(80, 0x06054b50, true);
    v.setUint16(88, 1, true);
    const t = performance.now();
    throwsUser(
      () => readCheckpoint(zip, 'z.pth'),
      /the zip directory lists more entries than a file of 102 bytes can hold/,
    );
    assert.ok(performance.now() - t < 1000);
  });
  it('a refused global whose name has a newline is named on one line', () => {
    const pickle = latin1('\x80\x02\x8c\x04os\nx\x8c\x06system\x93.');
    throwsUser(() => readCheckpoint(pickle, 'g.pth'), /it calls "os�x\.system", which pss does not run/);
  });
});
