/**
 * Finding out whether WebGPU can run here before pss relies on it. When no adapter exists,
 * ONNX Runtime's WebGPU provider (Dawn) prints its diagnostics straight to the process's
 * stderr — a screenful per attempt — and then throws. So the first WebGPU session of a
 * process is preceded by a probe in a child process, whose stderr pss keeps to itself.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PssError } from '../errors.js';

const require = createRequire(import.meta.url);

/** The smallest model a provider must run: y = Relu(x), x float32[1]. */
const PROBE = (ort: string, proto: string) => `
const ort = await import(${JSON.stringify(ort)});
const { default: p } = await import(${JSON.stringify(proto)});
const t = (name) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } });
const model = p.onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }],
  graph: { name: 'probe', node: [{ opType: 'Relu', input: ['x'], output: ['y'] }], input: [t('x')], output: [t('y')] } }).finish();
const s = await ort.InferenceSession.create(model, { executionProviders: ['webgpu'], logSeverityLevel: 3 });
await s.run({ x: new ort.Tensor('float32', new Float32Array([1]), [1]) });
`;

export const WEBGPU_HELP =
  "WebGPU needs a GPU with a Vulkan driver and the Vulkan loader (Debian: apt-get install libvulkan1), or, without a GPU, the software driver that Debian's chromium package ships: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json";

let probed: true | PssError | undefined;

/**
 * Throws a one-line PssError when no WebGPU adapter can be had. Also points Dawn's Wayland
 * probe at a private folder when XDG_RUNTIME_DIR is unset (pss never draws on a screen, and
 * otherwise every session prints "XDG_RUNTIME_DIR is invalid").
 */
export function checkWebGpu(): void {
  if (!process.env.XDG_RUNTIME_DIR) {
    const dir = join(tmpdir(), `pss-runtime-${process.getuid?.() ?? 'user'}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
  if (probed === undefined) {
    const script = PROBE(
      pathToFileURL(require.resolve('onnxruntime-node')).href,
      pathToFileURL(require.resolve('onnx-proto')).href,
    );
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (r.status === 0) probed = true;
    else {
      const text = `${r.stderr ?? ''}`;
      const reason = /No supported adapters|Failed to get a WebGPU adapter/.test(text)
        ? 'no WebGPU adapter was found'
        : r.error
          ? `the WebGPU check failed (${r.error.message})`
          : `the WebGPU provider failed to start (${(text.match(/Failed[^\n]*|Error: [^\n]*/)?.[0] ?? `exit code ${r.status}`).slice(0, 200)})`;
      probed = new PssError(`--device webgpu: ${reason}. ${WEBGPU_HELP}`);
    }
  }
  if (probed !== true) throw probed;
}
