/**
 * The prepared GPU run (scripts/gpu) works before a GPU is ever lent: prepare.sh --dry packs
 * what travels (Node, ONNX Runtime's library, the node_modules closure), then runs run.sh --dry
 * in a copy of the tree that has nothing else — no node_modules — so the bench's imports, the
 * CLI it spawns and every measure run there on the CPU. Fast compression here (the size limit
 * is checked at the real level by prepare.sh itself).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

describe('scripts/gpu', () => {
  it('prepare.sh --dry packs the run and the packed run works on the CPU', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pss-gpu-'));
    try {
      const r = spawnSync('bash', ['scripts/gpu/prepare.sh', '--dry'], {
        encoding: 'utf8',
        env: { ...process.env, GPU_DIR: dir, XZ_LEVEL: '0', SIZE_CHECK: '0' },
      });
      assert.equal(r.status, 0, `${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
      assert.match(r.stdout, /MiB of 64/);
      const bench = JSON.parse(readFileSync(join(dir, 'dry-bench.json'), 'utf8'));
      const m = bench.measures;
      assert.deepEqual(Object.keys(m), [
        'filterSaliencyBatch1',
        'perSampleThroughput',
        'inputSaliencyBatch1',
        'statsJpegs',
      ]);
      for (const [name, v] of Object.entries(m))
        assert.equal((v as { error?: string }).error, undefined, name);
      assert.ok(m.filterSaliencyBatch1.cosineToCpu > 0.9999 && m.filterSaliencyBatch1.medianMs > 0);
      assert.ok(m.perSampleThroughput.best.imagesPerS > 0);
      assert.ok(m.inputSaliencyBatch1.cosineToCpu > 0.9999);
      assert.ok(m.statsJpegs.imagesPerSWithStartup > 0 && m.statsJpegs.cosineOfMeanToCpu > 0.9999);
      assert.match(r.stdout, /filter saliency, batch 1 \(ms\) \| [\d.]+ \| 16\.1 \|/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
