/** What the web tests share: bad uploads, and `pss serve` in a child process. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { tinyOnnx } from '../helpers/onnx.js';

/** A well-formed ONNX classifier file with an operator pss does not know ("Foo"). */
export const onnxWithUnknownOp = (): Uint8Array => tinyOnnx(['Relu', 'Foo']);

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** Sends SIGINT; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `node bin/pss.mjs serve --port 0 ...args` and waits for the URL it prints. */
export function serve(args: string[] = [], timeoutMs = 30_000): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [join(process.cwd(), 'bin/pss.mjs'), 'serve', '--port', '0', ...args],
    {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pss serve printed no URL in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /pss explorer: (http:\/\/\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        url: m[1],
        child,
        output: () => out,
        stop: async () => {
          if (child.exitCode === null) child.kill('SIGINT');
          return exited;
        },
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pss serve exited with ${code}:\n${out}`));
    });
  });
}
