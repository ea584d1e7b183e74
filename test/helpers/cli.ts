/** Runs the built `pss` bin in a child process, as a user would. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = join(process.cwd(), 'bin/pss.mjs');

export interface PssRun {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Bytes for the child's stdin. */
  input?: string;
  timeoutMs?: number;
}

export function pss(args: string[], opts: PssRun = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    cwd: opts.cwd,
    input: opts.input,
    timeout: opts.timeoutMs ?? 120_000,
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `pss` without waiting (for signals and concurrent runs). */
export function pssAsync(args: string[], opts: PssRun = {}) {
  return spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export const tempDir = () => mkdtempSync(join(tmpdir(), 'pss-test-'));

/** Asserts a one-line user error naming the problem, exit code 1, and no stack trace. */
export function assertOneLine(r: ReturnType<typeof pss>, pattern: RegExp, code = 1) {
  assert.equal(r.code, code, `exit code ${r.code} (stderr: ${r.stderr})`);
  assert.doesNotMatch(r.stderr, /\n\s+at |Error:|\[W:onnxruntime/, `no stack or runtime noise:\n${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0], /^pss: /);
  assert.match(lines[0], pattern);
}
