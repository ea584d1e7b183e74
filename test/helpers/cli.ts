/** Runs the built `pss` bin in a child process, as a user would. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function pss(args: string[], opts: { cwd?: string } = {}) {
  const r = spawnSync(process.execPath, [join(process.cwd(), 'bin/pss.mjs'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
    cwd: opts.cwd,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export const tempDir = () => mkdtempSync(join(tmpdir(), 'pss-test-'));
