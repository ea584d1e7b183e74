// The node_modules folders the GPU run needs, one a line: the closure of pss's dependencies
// without the charts' (vega, vega-lite: no command the bench runs draws one). Nested copies
// (a package's own node_modules) are found the way Node finds them.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const SKIP = new Set(['vega', 'vega-lite']);
const pkg = (dir) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
/** Where `name` resolves from package folder `from`: its own node_modules, then each one above. */
function locate(name, from) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === root || dir === dirname(dir)) return undefined;
  }
}
const found = new Set();
const visit = (name, from, optional) => {
  if (SKIP.has(name)) return;
  const dir = locate(name, from);
  if (!dir) {
    if (optional) return; // another platform's binary
    throw new Error(`${name} (needed by ${relative(root, from) || 'pss'}) is not installed: run npm ci`);
  }
  if (found.has(dir)) return;
  found.add(dir);
  const p = pkg(dir);
  for (const d of Object.keys(p.dependencies ?? {})) visit(d, dir, false);
  for (const d of Object.keys(p.optionalDependencies ?? {})) visit(d, dir, true);
};
const top = pkg(root);
for (const d of Object.keys(top.dependencies)) visit(d, root, false);
console.log(
  [...found]
    .map((d) => relative(root, d))
    .sort()
    .join('\n'),
);
