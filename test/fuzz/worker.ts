/**
 * The fuzzing child process (started by runner.ts): runs fast-check batches of one target,
 * seed after seed, until told to stop or out of cases. Before each case it writes a counter and
 * the input to the case file, so that the parent's watchdog can tell a hang (or a crash) and
 * save the input that caused it. A failing case is shrunk by fast-check, saved to the output
 * folder and reported to the parent; the run goes on with the next seed.
 */
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { checkCase } from './check.js';
import { inputArbitrary } from './mutate.js';
import { target as targetNamed } from './targets.js';

export interface WorkerArgs {
  target: string;
  seed: number;
  /** Cases in all (the run also stops when the parent says so). */
  cases: number;
  batch: number;
  caseMs: number;
  caseFile: string;
  outDir: string;
}

export type WorkerMessage =
  | { type: 'progress'; cases: number; ok: number; refused: number; seed: number }
  | { type: 'failure'; seed: number; message: string; input: string; shrinks: number; path: string | null }
  | { type: 'done' };

const args = JSON.parse(process.argv[2]) as WorkerArgs;
const target = targetNamed(args.target);
const send = (m: WorkerMessage) => process.send?.(m);

let stop = false;
process.on('message', (m) => {
  if (m === 'stop') stop = true;
});
process.on('disconnect', () => process.exit(0));

const fd = openSync(args.caseFile, 'w');
let counter = 0;
/** [u32 case counter][u32 length][input]: one write, read by the watchdog. */
function recordCase(bytes: Uint8Array) {
  const record = Buffer.allocUnsafe(8 + bytes.length);
  record.writeUInt32LE(++counter >>> 0, 0);
  record.writeUInt32LE(bytes.length, 4);
  record.set(bytes, 8);
  writeSync(fd, record, 0, record.length, 0);
}

const arbitrary = inputArbitrary(target);
let cases = 0;
let ok = 0;
let refused = 0;
for (let seed = args.seed; !stop && cases < args.cases; seed++) {
  const numRuns = Math.min(args.batch, args.cases - cases);
  const property = fc.asyncProperty(arbitrary, async (bytes) => {
    recordCase(bytes);
    const r = await checkCase(target, bytes, args.caseMs);
    if (r.outcome === 'ok') ok++;
    else refused++;
  });
  const details = await fc.check(property, { seed, numRuns, endOnFailure: false });
  cases += details.numRuns;
  if (details.failed && details.counterexample) {
    const bytes = details.counterexample[0];
    const input = join(args.outDir, `${args.target}-seed${seed}.bin`);
    writeFileSync(input, bytes);
    const error = details.errorInstance;
    send({
      type: 'failure',
      seed,
      message: error instanceof Error ? error.message : String(error),
      input,
      shrinks: details.numShrinks,
      path: details.counterexamplePath,
    });
  }
  send({ type: 'progress', cases, ok, refused, seed });
  await new Promise((r) => setImmediate(r));
}
closeSync(fd);
send({ type: 'done' });
process.disconnect?.();
