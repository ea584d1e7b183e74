/** The README's library example is examples/library.mjs, word for word, and it runs as plain JavaScript. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

describe('README', () => {
  const readme = readFileSync('README.md', 'utf8');
  const example = readFileSync('examples/library.mjs', 'utf8');

  it('shows examples/library.mjs as its library example', () => {
    const library = readme.slice(readme.indexOf('## Library'));
    const block = /```js\n([\s\S]*?)```/.exec(library)?.[1];
    assert.equal(block, example);
  });

  it('whose code runs on Node as a .mjs file against the built package', () => {
    const r = spawnSync(process.execPath, ['examples/library.mjs'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^predicted T-shirt\/top, true Shirt\n {2}conv5:\d+ {2}z = [\d.]+\n/);
    assert.match(r.stdout, /input gradient of 784 values, Grad-CAM 7x7/);
  });

  it('names the .npmrc line that depending on pss offline needs', () => {
    assert.match(readme, /onnxruntime-node-install=skip/);
    assert.match(readFileSync('.npmrc', 'utf8'), /^onnxruntime-node-install=skip$/m);
  });
});
