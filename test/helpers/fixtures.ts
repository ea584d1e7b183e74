/** Reads the PyTorch reference fixtures (test/fixtures, made by scripts/reference/make_fixtures.py). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { parseSafeTensors, toFloat64 } from '../../src/models/safetensors.js';
import { cosine } from '../../src/util/vector.js';

export function loadFixture(name: string) {
  const st = parseSafeTensors(new Uint8Array(readFileSync(`test/fixtures/${name}.safetensors`)));
  const get = (k: string) => {
    const t = st.tensors.get(k);
    if (!t) throw new Error(`fixture ${name} has no tensor ${k}`);
    return { shape: t.shape, data: toFloat64(t) };
  };
  return { get, has: (k: string) => st.tensors.has(k), metadata: st.metadata };
}

export { cosine };

/** max |a - b| / max |b| */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

/**
 * The parity tolerance against PyTorch float64: cosine >= 0.99999 and max |diff| <= 1e-3 · max |ref|;
 * reports both through the test's diagnostics.
 */
export function assertClose(name: string, ours: ArrayLike<number>, ref: ArrayLike<number>, t?: TestContext) {
  assert.equal(ours.length, ref.length, `${name}: length`);
  const cos = cosine(ours, ref);
  const rel = maxRelDiff(ours, ref);
  t?.diagnostic(`${name}: cosine ${cos.toFixed(9)}, max |diff| / max |ref| ${rel.toExponential(2)}`);
  assert.ok(cos >= 0.99999, `${name}: cosine ${cos}`);
  assert.ok(rel <= 1e-3, `${name}: max |diff| / max |ref| = ${rel}`);
}
