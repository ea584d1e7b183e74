/**
 * `npm run fuzz -- --target npy --minutes 10 [--seed n] [--out dir]`: fuzzes one parser (or
 * `--target all`, one after the other) and prints cases/s, counts and every failure with its
 * seed and the saved input. `--replay file` runs one saved input through the target's property
 * and prints what happened (the message, or the error and its stack).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { checkCase, FuzzFailure } from './check.js';
import { fuzz } from './runner.js';
import { TARGETS, target } from './targets.js';

const { values } = parseArgs({
  options: {
    target: { type: 'string' },
    minutes: { type: 'string', default: '1' },
    cases: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    replay: { type: 'string' },
  },
});
const names = values.target === 'all' ? TARGETS.map((t) => t.name) : [values.target ?? ''];
for (const n of names) target(n); // an unknown name fails here, listing the targets

if (values.replay) {
  const bytes = new Uint8Array(readFileSync(values.replay));
  try {
    const r = await checkCase(target(names[0]), bytes, 60_000);
    console.log(`${names[0]}: ${r.outcome} in ${r.ms.toFixed(1)} ms${r.message ? `: ${r.message}` : ''}`);
  } catch (e) {
    console.log(`${names[0]}: FAILURE: ${(e as Error).message}`);
    if (e instanceof FuzzFailure && e.cause) console.log((e.cause as Error).stack);
    process.exitCode = 1;
  }
} else {
  let failed = 0;
  for (const name of names) {
    const seed = values.seed === undefined ? Date.now() % 1e9 : Number(values.seed);
    console.log(`fuzzing ${name} from seed ${seed}`);
    let last = 0;
    const s = await fuzz({
      target: name,
      seed,
      minutes: values.cases ? undefined : Number(values.minutes),
      cases: values.cases ? Number(values.cases) : undefined,
      outDir: values.out,
      log: (line) => {
        // progress every 10 s; failures always
        if (line.startsWith('FAILURE') || Date.now() - last > 10_000) {
          if (!line.startsWith('FAILURE')) last = Date.now();
          console.log(line);
        }
      },
    });
    console.log(
      `${name}: ${s.cases} cases in ${(s.seconds / 60).toFixed(1)} min (${(s.cases / s.seconds).toFixed(0)}/s): ${s.ok} parsed, ${s.refused} refused with a PssError, ${s.failures.length} failures`,
    );
    // one line per distinct failure (numbers aside), with how often it came and its first input
    const distinct = new Map<string, { first: (typeof s.failures)[number]; count: number }>();
    for (const f of s.failures) {
      const key = `${f.kind}: ${f.message.replace(/\d+/g, 'N')}`;
      const d = distinct.get(key);
      if (d) d.count++;
      else distinct.set(key, { first: f, count: 1 });
    }
    for (const { first: f, count } of distinct.values())
      console.log(
        `  ${f.kind} (seed ${f.seed}${count > 1 ? `, and ${count - 1} more seeds` : ''}): ${f.message}\n    replay: npm run fuzz -- --target ${name} --replay ${f.input}`,
      );
    failed += s.failures.length;
  }
  process.exitCode = failed ? 1 : 0;
}
