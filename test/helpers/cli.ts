/** Runs the built `pss` bin in a child process, as a user would. */
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
