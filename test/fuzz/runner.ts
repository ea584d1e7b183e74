/**
 * Runs a fuzz target in a child process (worker.ts) under a watchdog: a case that does not
 * finish within `hangMs` (a hang), a child that dies (a crash, an out-of-memory) or grows past
 * `rssBytes` is a failure whose input is read back from the case file and saved; the child is
 * then restarted on a fresh seed until the run's cases or time are used up.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkerArgs, WorkerMessage } from './worker.js';

export interface FuzzOptions {
  target: string;
  seed: number;
  /** Stop after this many cases... */
  cases?: number;
  /** ...or after this long. */
  minutes?: number;
  /** A case slower than this is a failure (reported by the child, with fast-check's shrinking). */
  caseMs?: number;
  /** A case still running after this long is a hang (the child is killed). */
  hangMs?: number;
  rssBytes?: number;
  /** Where failing inputs are saved (default: a new temporary folder). */
  outDir?: string;
  /** Called with a line to print (progress, failures). */
  log?: (line: string) => void;
}

export interface FuzzFailureReport {
  kind: 'property' | 'hang' | 'crash' | 'memory';
  seed: number;
  message: string;
  /** The saved input, to replay with `npm run fuzz -- --target T --replay FILE`. */
  input: string;
}

export interface FuzzSummary {
  target: string;
  cases: number;
  ok: number;
  refused: number;
  seconds: number;
  failures: FuzzFailureReport[];
  outDir: string;
}

const WORKER = new URL('./worker.ts', import.meta.url).pathname;

export async function fuzz(options: FuzzOptions): Promise<FuzzSummary> {
  const outDir = options.outDir ?? mkdtempSync(join(tmpdir(), `pss-fuzz-${options.target}-`));
  mkdirSync(outDir, { recursive: true });
  const log = options.log ?? (() => {});
  const hangMs = options.hangMs ?? 30_000;
  const rssBytes = options.rssBytes ?? 3 * 2 ** 30;
  const deadline =
    options.minutes === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.minutes * 60_000;
  const totalCases = options.cases ?? Number.MAX_SAFE_INTEGER;
  const started = Date.now();
  const summary: FuzzSummary = {
    target: options.target,
    cases: 0,
    ok: 0,
    refused: 0,
    seconds: 0,
    failures: [],
    outDir,
  };
  let seed = options.seed;
  let generation = 0;

  while (summary.cases < totalCases && Date.now() < deadline) {
    const caseFile = join(outDir, `current-${generation++}.case`);
    writeFileSync(caseFile, new Uint8Array(8));
    const args: WorkerArgs = {
      target: options.target,
      seed,
      cases: totalCases - summary.cases,
      batch: 200,
      caseMs: options.caseMs ?? 5_000,
      caseFile,
      outDir,
    };
    const before = { cases: summary.cases, ok: summary.ok, refused: summary.refused };
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--max-old-space-size=3072', WORKER, JSON.stringify(args)],
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    const result = await supervise(child, caseFile, { hangMs, rssBytes, deadline }, (m) => {
      if (m.type === 'progress') {
        summary.cases = before.cases + m.cases;
        summary.ok = before.ok + m.ok;
        summary.refused = before.refused + m.refused;
        seed = m.seed + 1;
        const s = (Date.now() - started) / 1000;
        log(
          `${options.target}: ${summary.cases} cases, ${(summary.cases / s).toFixed(0)}/s, ${summary.ok} parsed, ${summary.refused} refused, ${summary.failures.length} failures`,
        );
      } else if (m.type === 'failure') {
        const f: FuzzFailureReport = { kind: 'property', seed: m.seed, message: m.message, input: m.input };
        summary.failures.push(f);
        log(
          `FAILURE ${options.target} seed ${m.seed} (shrunk ${m.shrinks} times): ${m.message}\n  input: ${m.input}`,
        );
      }
    });
    if (result?.kind === 'crash' && summary.cases === before.cases && counterOf(caseFile) === 0)
      throw new Error(
        `the fuzz worker for ${options.target} exited before its first case: ${result.message}`,
      );
    if (result) {
      const input = join(outDir, `${options.target}-${result.kind}-seed${seed}.bin`);
      writeFileSync(input, result.input);
      summary.failures.push({ kind: result.kind, seed, message: result.message, input });
      log(`FAILURE ${options.target} ${result.kind} near seed ${seed}: ${result.message}\n  input: ${input}`);
      seed += 1;
    }
  }
  summary.seconds = (Date.now() - started) / 1000;
  return summary;
}

interface Watch {
  hangMs: number;
  rssBytes: number;
  deadline: number;
}

/** Waits for the child to finish; returns the hang, crash or memory failure, if any. */
function supervise(
  child: ChildProcess,
  caseFile: string,
  watch: Watch,
  onMessage: (m: WorkerMessage) => void,
): Promise<{ kind: 'hang' | 'crash' | 'memory'; message: string; input: Uint8Array } | undefined> {
  return new Promise((resolve) => {
    let lastCounter = -1;
    let lastChange = Date.now();
    let verdict: { kind: 'hang' | 'crash' | 'memory'; message: string; input: Uint8Array } | undefined;
    let stopping = false;
    child.on('message', (m) => onMessage(m as WorkerMessage));
    const timer = setInterval(() => {
      const counter = readCase(caseFile).counter;
      if (counter !== lastCounter) [lastCounter, lastChange] = [counter, Date.now()];
      const rss = rssOf(child.pid);
      if (!verdict && Date.now() - lastChange > watch.hangMs)
        verdict = {
          kind: 'hang',
          message: `a case ran for more than ${watch.hangMs} ms`,
          input: readCase(caseFile).input,
        };
      if (!verdict && rss > watch.rssBytes)
        verdict = {
          kind: 'memory',
          message: `the fuzzing process reached ${(rss / 2 ** 30).toFixed(2)} GiB of RSS`,
          input: readCase(caseFile).input,
        };
      if (verdict) child.kill('SIGKILL');
      else if (!stopping && Date.now() > watch.deadline && child.connected) {
        stopping = true;
        child.send('stop');
      }
    }, 250);
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      if (!verdict && (code !== 0 || signal))
        verdict = {
          kind: 'crash',
          message: `the fuzzing process exited (code ${code}, signal ${signal})`,
          input: readCase(caseFile).input,
        };
      resolve(verdict);
    });
  });
}

function readCase(caseFile: string): { counter: number; input: Uint8Array } {
  const fd = openSync(caseFile, 'r');
  try {
    const head = Buffer.alloc(8);
    readSync(fd, head, 0, 8, 0);
    const input = Buffer.alloc(head.readUInt32LE(4));
    readSync(fd, input, 0, input.length, 8);
    return { counter: head.readUInt32LE(0), input };
  } finally {
    closeSync(fd);
  }
}

const counterOf = (caseFile: string) => readCase(caseFile).counter;

function rssOf(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
