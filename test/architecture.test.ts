/**
 * The house rules, checked on the source itself: every import runs from a higher layer to
 * the same or a lower one, no files import each other in a circle, and every source file can
 * be read in one sitting. `npm test -- architecture` runs it.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, it } from 'node:test';

/** Bottom to top. A file may import files of its own layer and of the layers below. */
export const LAYERS: readonly (readonly string[])[] = [
  ['errors.ts', 'util'],
  ['graph'],
  ['ops'],
  ['autodiff'],
  ['runtime'],
  ['io'],
  ['models'],
  ['image'],
  ['data'],
  ['saliency'],
  ['stats'],
  ['jobs'],
  ['figures'],
  ['web'],
  ['cli'],
  ['index.ts'],
];

/** Files allowed past MAX_LINES: a pickle virtual machine reads best whole, and a data table. */
const LONG_FILES = new Set(['src/io/pickle.ts', 'src/image/imagenet-classes.ts']);
const MAX_LINES = 400;

const sources = (dir: string): string[] =>
  readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => /\.(ts|js|css|html)$/.test(f))
    .map((f) => join(dir, f));

/** Relative imports of a TypeScript file, resolved to source paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"](\.[^'"]+)['"]/gms),
    ...text.matchAll(/^\s*import\s*['"](\.[^'"]+)['"]/gm),
    ...text.matchAll(/\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]);
  return specs.map((s) => normalize(join(dirname(file), s)).replace(/\.js$/, '.ts'));
}

const layerOf = (file: string): number => {
  const top = relative('src', file).split('/')[0];
  const i = LAYERS.findIndex((l) => l.includes(top));
  return i;
};

const code = sources('src').filter((f) => f.endsWith('.ts'));
const graph = new Map(code.map((f) => [f, importsOf(f)]));

describe('architecture', () => {
  it('every top-level part of src/ has a layer', () => {
    const tops = [...new Set(code.map((f) => relative('src', f).split('/')[0]))];
    assert.deepEqual(
      tops.filter((t) => !LAYERS.some((l) => l.includes(t))),
      [],
    );
  });

  it('no import runs from a lower layer up to a higher one', () => {
    const up: string[] = [];
    for (const [file, deps] of graph)
      for (const dep of deps)
        if (dep.startsWith('src/') && layerOf(dep) > layerOf(file)) up.push(`${file} -> ${dep}`);
    assert.deepEqual(up, []);
  });

  it('no import circle', () => {
    // Tarjan's strongly connected components over the file graph.
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const circles: string[][] = [];
    let next = 0;
    const visit = (v: string) => {
      index.set(v, next);
      low.set(v, next++);
      stack.push(v);
      onStack.add(v);
      for (const w of graph.get(v) ?? []) {
        if (!graph.has(w)) continue;
        if (!index.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
      if (low.get(v) === index.get(v)) {
        const scc: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          scc.push(w);
        } while (w !== v);
        if (scc.length > 1) circles.push(scc.sort());
      }
    };
    for (const v of graph.keys()) if (!index.has(v)) visit(v);
    assert.deepEqual(circles, []);
  });

  it(`no source file over ${MAX_LINES} lines (but the pickle interpreter and the ImageNet class list)`, () => {
    const long = sources('src')
      .filter((f) => !LONG_FILES.has(f))
      .map((f) => [f, readFileSync(f, 'utf8').split('\n').length] as const)
      .filter(([, n]) => n > MAX_LINES)
      .map(([f, n]) => `${f}: ${n}`);
    assert.deepEqual(long, []);
  });
});
