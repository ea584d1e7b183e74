/**
 * Ctrl+C and termination: one line (with the --resume hint where the command has one), exit
 * 130 / 143, the terminal restored (cursor shown, line wrapping back on), no output file, no
 * temporary file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pssAsync, tempDir } from '../helpers/cli.js';

const dir = tempDir();

/** An IDX pair of n 28x28 images for the bundled model: long enough to interrupt. */
function writeIdx(n: number): string {
  const img = Buffer.alloc(16 + n * 28 * 28);
  img.writeUInt32BE(2051, 0);
  img.writeUInt32BE(n, 4);
  img.writeUInt32BE(28, 8);
  img.writeUInt32BE(28, 12);
  for (let i = 16; i < img.length; i++) img[i] = (i * 2654435761) >>> 24;
  const lab = Buffer.alloc(8 + n);
  lab.writeUInt32BE(2049, 0);
  lab.writeUInt32BE(n, 4);
  for (let i = 0; i < n; i++) lab[8 + i] = i % 10;
  writeFileSync(join(dir, 'x-images-idx3-ubyte'), img);
  writeFileSync(join(dir, 'x-labels-idx1-ubyte'), lab);
  return join(dir, 'x-images-idx3-ubyte');
}

const data = writeIdx(50_000);

/** Starts `pss stats`, waits until it has written a checkpoint, sends `signal`, returns how it ended. */
async function interrupt(signal: NodeJS.Signals, out: string) {
  const child = pssAsync(['stats', '--data', data, '--out', out, '--checkpoint-every', '200']);
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const deadline = Date.now() + 60_000;
  while (!existsSync(`${out}.checkpoint`) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  child.kill(signal);
  const started = Date.now();
  const code = await exited;
  return { code, stderr, seconds: (Date.now() - started) / 1000 };
}

describe('signals', () => {
  it('SIGINT during pss stats: one line with the --resume hint, exit 130, no output', async () => {
    const out = join(dir, 'int.safetensors');
    const r = await interrupt('SIGINT', out);
    assert.equal(r.code, 130, r.stderr);
    assert.equal(r.stderr.trim(), 'pss: interrupted; rerun the same command with --resume to continue');
    assert.ok(r.seconds < 5, `stopped within ${r.seconds} s`);
    assert.equal(existsSync(out), false, 'no output');
    assert.ok(existsSync(`${out}.checkpoint`), 'the checkpoint stays, for --resume');
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.includes('.tmp-') || n.endsWith('.lock')),
      [],
      'no temporary or lock file',
    );
  });

  it('SIGTERM: one line, exit 143', async () => {
    const out = join(dir, 'term.safetensors');
    const r = await interrupt('SIGTERM', out);
    assert.equal(r.code, 143, r.stderr);
    assert.match(
      r.stderr.trim(),
      /^pss: stopped by SIGTERM; rerun the same command with --resume to continue$/,
    );
  });

  it('Ctrl+C on a terminal restores the cursor and line wrapping that the progress bar took', (t) => {
    // script(1) runs the command on a pseudo-terminal, so the progress bar draws.
    if (spawnSync('script', ['--version']).status !== 0)
      return t.skip('script(1) from util-linux is not installed');
    const out = join(dir, 'tty.safetensors');
    const command = `timeout --preserve-status -s INT 8 ${process.execPath} bin/pss.mjs stats --data ${data} --out ${out}`;
    const r = spawnSync('script', ['-qefc', command, '/dev/null'], {
      encoding: 'latin1',
      env: { ...process.env, CI: '' },
      timeout: 60_000,
    });
    const text = r.stdout;
    const hidden = text.lastIndexOf('\x1b[?25l');
    assert.ok(hidden >= 0, 'the progress bar hid the cursor');
    assert.ok(text.indexOf('\x1b[?25h', hidden) > hidden, 'the cursor is shown again');
    assert.ok(text.lastIndexOf('\x1b[?7h') > text.lastIndexOf('\x1b[?7l'), 'line wrapping is back on');
    assert.match(text, /pss: interrupted; rerun the same command with --resume to continue/);
    assert.equal(r.status, 130);
  });
});
