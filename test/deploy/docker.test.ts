/**
 * deploy/Dockerfile, checked without Docker: the base image, the production install
 * (`npm ci --omit=dev`, so everything pss imports at run time must be a dependency, not a
 * dev dependency), the Vulkan loader of the GPU stage, and every file the image copies there
 * and let through by the build context's ignore file.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const dockerfile = readFileSync('deploy/Dockerfile', 'utf8');
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));

/** The stages: name -> their instructions, continuation lines joined. */
function stages(text: string): Map<string, string[]> {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#'));
  const out = new Map<string, string[]>();
  let current: string[] = [];
  for (const l of lines) {
    const from = /^FROM\s+\S+(?:\s+AS\s+(\S+))?/i.exec(l);
    if (from) out.set(from[1] ?? `stage${out.size}`, (current = []));
    current.push(l.trim());
  }
  return out;
}

describe('deploy/Dockerfile', () => {
  const s = stages(dockerfile);

  it('Node 20 slim; the runtime installs the production dependencies from the lockfile', () => {
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:20-[a-z]+-slim$/m);
    assert.deepEqual([...s.keys()], ['build', 'runtime', 'gpu', 'cpu']);
    const runtime = s.get('runtime')!.join('\n');
    assert.match(runtime, /^RUN .*npm ci --omit=dev/m);
    assert.match(runtime, /^ENTRYPOINT \["node", "\/app\/bin\/pss\.mjs"\]$/m);
    assert.match(s.get('gpu')!.join('\n'), /apt-get install .*libvulkan1/);
    assert.equal(s.get('cpu')![0], 'FROM runtime AS cpu', 'the default (last) stage is the CPU image');
  });

  it('what pss imports at run time is in dependencies (npm ci --omit=dev leaves out the rest)', () => {
    const deps = new Set(Object.keys(pkg.dependencies));
    const files = readdirSync('src', { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.ts'));
    const missing = new Set<string>();
    const seen = new Set<string>();
    for (const f of files) {
      const text = readFileSync(join('src', f), 'utf8');
      for (const m of text.matchAll(
        /^(import|export)(\s+type)?[^;]*?from\s+'([^']+)'|import\('([^']+)'\)/gms,
      )) {
        if (m[2]) continue; // type-only: erased
        const spec = m[3] ?? m[4];
        if (spec.startsWith('.') || spec.startsWith('node:') || builtinModules.includes(spec)) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        seen.add(name);
        if (!deps.has(name)) missing.add(`${name} (src/${f})`);
      }
    }
    assert.deepEqual([...missing], []);
    for (const name of ['citty', 'onnxruntime-node', 'sharp', 'vega-lite'])
      assert.ok(seen.has(name), `the scan sees the import of ${name}`);
  });

  it('every file it copies exists and is let into the build context', () => {
    const ignore = readFileSync('deploy/Dockerfile.dockerignore', 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    assert.equal(ignore[0], '*', 'everything is left out but what is named');
    const allowed = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    const copies = [...dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)].map((m) =>
      m[1].split(/\s+/).slice(0, -1),
    );
    assert.ok(copies.length >= 5);
    for (const src of copies.flat()) {
      assert.ok(existsSync(src), `${src} exists`);
      assert.ok(
        allowed.some((a) => src === a || src.startsWith(`${a}/`)),
        `${src} is let in by Dockerfile.dockerignore`,
      );
    }
  });
});
