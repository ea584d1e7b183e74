/**
 * The parsers of user-supplied files never crash: a short seeded fuzz run of every target (each
 * in a child process under a watchdog, see runner.ts), then the inputs that earlier runs found,
 * minimised, as regression cases. Longer runs: `npm run fuzz -- --target npy --minutes 10`.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { checkCase } from './check.js';
import { REGRESSIONS } from './regressions.js';
import { fuzz } from './runner.js';
import { TARGETS, target } from './targets.js';

/** Cases per target: about three seconds each on one core. */
const CASES: Record<string, number> = {
  npy: 4000,
  safetensors: 3000,
  pth: 1500,
  onnx: 1000,
  idx: 1000,
  image: 600,
  stats: 1500,
};

describe('fuzz: every parser gives a valid result or a one-line PssError', () => {
  for (const t of TARGETS)
    it(`${t.name}: ${CASES[t.name]} seeded cases`, async () => {
      const s = await fuzz({
        target: t.name,
        seed: 20261202,
        cases: CASES[t.name],
        caseMs: 5_000,
        hangMs: 20_000,
      });
      const report = s.failures.map((f) => `${f.kind} (seed ${f.seed}): ${f.message} [input: ${f.input}]`);
      assert.deepEqual(report, [], `replay with: npm run fuzz -- --target ${t.name} --replay <input>`);
      rmSync(s.outDir, { recursive: true, force: true }); // kept when something failed
      assert.ok(s.cases >= CASES[t.name], `${s.cases} cases ran`);
      // the seeds keep the inputs deep: a good share of the mutated files still parse
      assert.ok(s.ok > 0, `no case parsed: are ${t.name}'s seeds still valid?`);
    });

  it('most seeds are valid files (those meant to be refused aside)', async () => {
    for (const t of TARGETS) {
      let parsed = 0;
      for (const seed of t.seeds) if ((await checkCase(t, seed, 10_000)).outcome === 'ok') parsed++;
      assert.ok(parsed >= t.seeds.length / 2, `${t.name}: ${parsed} of ${t.seeds.length} seeds parse`);
    }
  });
});

describe('fuzz regressions: inputs earlier runs found', () => {
  for (const r of REGRESSIONS)
    it(`${r.target}: ${r.name}`, async () => {
      const result = await checkCase(target(r.target), r.bytes(), 2_000);
      assert.equal(result.outcome, 'refused');
      assert.match(result.message!, r.message);
    });
});
