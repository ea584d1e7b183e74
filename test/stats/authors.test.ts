/**
 * The authors' .pth statistics are checked like pss's own: floating vectors of one length,
 * finite, std >= 0 — each problem one line naming the file, the tensor and the index.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { zipSync } from 'fflate';
import { PssError } from '../../src/errors.js';
import { authorsStats } from '../../src/stats/authors.js';

const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const str = (s: string) => {
  const n = Buffer.alloc(4);
  n.writeUInt32LE(s.length);
  return `X${n.toString('latin1')}${s}`;
};
const int = (n: number) =>
  n < 256 ? `K${String.fromCharCode(n)}` : `M${String.fromCharCode(n & 255, n >> 8)}`;
const tuple = (xs: number[]) => (xs.length === 1 ? `${int(xs[0])}\x85` : `(${xs.map(int).join('')}t`);

type Kind = 'Float' | 'Double' | 'Long';
interface Tensor {
  kind: Kind;
  shape: number[];
  values: number[];
}

/** A torch.save'd zip checkpoint of {name: tensor} (protocol 2, as torch writes it). */
function checkpoint(tensors: Record<string, Tensor>): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  let pkl = '\x80\x02}(';
  Object.entries(tensors).forEach(([name, t], key) => {
    const numel = t.values.length;
    const strides = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    pkl +=
      `${str(name)}ctorch._utils\n_rebuild_tensor_v2\n(` +
      `(${str('storage')}ctorch\n${t.kind}Storage\n${str(String(key))}${str('cpu')}${int(numel)}tQ` +
      `${int(0)}${tuple(t.shape)}${tuple(strides)}\x89tR`;
    const bytes =
      t.kind === 'Float'
        ? new Uint8Array(Float32Array.from(t.values).buffer)
        : t.kind === 'Double'
          ? new Uint8Array(Float64Array.from(t.values).buffer)
          : new Uint8Array(BigInt64Array.from(t.values.map(BigInt)).buffer);
    files[`a/data/${key}`] = bytes;
  });
  files['a/data.pkl'] = latin1(`${pkl}u.`);
  files['a/version'] = latin1('3\n');
  return zipSync(files, { level: 0 });
}

const vec = (values: number[], kind: Kind = 'Float'): Tensor => ({ kind, shape: [values.length], values });
const PATH = 'stats_resnet50.pth';

function refused(tensors: Record<string, Tensor>, pattern: RegExp) {
  assert.throws(
    () => authorsStats(checkpoint(tensors), PATH),
    (e: Error) => {
      assert.ok(e instanceof PssError, `a PssError, got ${e.stack}`);
      assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

describe("the authors' statistics files", () => {
  it('reads float32 means and float64 stds (as the authors saved them)', () => {
    const s = authorsStats(checkpoint({ mean: vec([0.5, 0.25]), std: vec([0.1, 0], 'Double') }), PATH);
    assert.equal(s.meta.model, 'resnet50');
    assert.deepEqual([...s.acc.mean], [0.5, 0.25]);
    assert.deepEqual([...s.acc.std()], [0.1, 0]);
  });

  it('refuses other dtypes, shapes and lengths', () => {
    refused(
      { mean: vec([1, 2], 'Long'), std: vec([1, 1]) },
      /^statistics file stats_resnet50\.pth: 'mean' is an int64 tensor; statistics are floating point$/,
    );
    refused(
      { mean: { kind: 'Float', shape: [2, 2], values: [1, 2, 3, 4] }, std: vec([1, 1, 1, 1]) },
      /: 'mean' has shape \[2, 2\]; expected one value per filter$/,
    );
    refused({ mean: vec([1, 2, 3]), std: vec([1, 1]) }, /: 'mean' has 3 values but 'std' has 2$/);
    refused({ mean: vec([]), std: vec([]) }, /: 'mean' is empty$/);
    refused(
      { std: vec([1]) },
      /is a PyTorch file but not statistics: expected \{'mean': float\[F\], 'std': float\[F\]\}/,
    );
  });

  it('refuses NaN, infinities and negative stds by tensor and index', () => {
    refused(
      { mean: vec([1, Number.NaN]), std: vec([1, 1]) },
      /: mean\[1\] is NaN; statistics must be finite numbers$/,
    );
    refused(
      { mean: vec([1, 2]), std: vec([Number.POSITIVE_INFINITY, 1], 'Double') },
      /: std\[0\] is Infinity/,
    );
    refused(
      { mean: vec([1, 2, 3]), std: vec([1, 1, -0.5]) },
      /: std\[2\] is -0\.5; a standard deviation cannot be negative$/,
    );
  });

  it('refuses an image count below 2', () => {
    assert.throws(
      () => authorsStats(checkpoint({ mean: vec([1]), std: vec([1]) }), PATH, { count: 1 }),
      /the image count of stats_resnet50\.pth must be an integer >= 2, got 1/,
    );
  });
});
