/** The vocabulary of positions: the unit table, locate and its inverse, --filters, ranking, turning units off. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PssError } from '../../src/errors.js';
import { loadModel } from '../../src/models/load.js';
import { Model } from '../../src/models/model.js';
import { tinycnn } from '../../src/models/tinycnn.js';
import { topFilters, topK } from '../../src/saliency/rank.js';
import { locate, parseUnits, unitIndex, unitsOffMask, unitTable } from '../../src/saliency/units.js';

const tiny = Model.deterministic(tinycnn);

describe('the unit table', () => {
  it('is model.layers with a kind, in saliency-vector order, and the same object each time', () => {
    const table = unitTable(tiny);
    assert.deepEqual(
      table.map(({ name, param, offset, filters, kind }) => [name, param, offset, filters, kind]),
      tiny.layers.map((l) => [l.name, l.param, l.offset, l.filters, 'filter']),
    );
    assert.equal(unitTable(tiny), table);
  });

  it('locate and unitIndex are inverses over every position', () => {
    const table = unitTable(tiny);
    for (let i = 0; i < tiny.filterCount; i++) {
      const u = locate(i, table);
      assert.equal(u.index, i);
      assert.equal(u.kind, 'filter');
      assert.equal(unitIndex(table, u.layer, u.filter), i);
    }
    assert.deepEqual(locate(16, table), { index: 16, layer: 'conv2', filter: 0, kind: 'filter' });
  });

  it('positions outside every layer, and gaps between layers, are refused with one line', () => {
    const table = unitTable(tiny);
    for (const bad of [-1, tiny.filterCount, 2.5, Number.NaN])
      assert.throws(() => locate(bad, table), PssError);
    const gappy = [
      { name: 'a', offset: 0, filters: 2 },
      { name: 'b', offset: 4, filters: 2 },
    ];
    assert.throws(() => locate(3, gappy), /position 3 is in no layer/);
    assert.deepEqual(locate(5, gappy), { index: 5, layer: 'b', filter: 1, kind: 'filter' });
    assert.throws(() => unitIndex(gappy, 'c', 0), /no layer "c"/);
    assert.throws(() => unitIndex(gappy, 'a', 2), /a has filters 0\.\.1, not 2/);
  });
});

describe('--filters', () => {
  it('names layer:index pairs, in the order given; a filter named twice counts once', async () => {
    const model = await loadModel({ model: 'fashion-cnn' });
    assert.deepEqual(parseUnits('conv5:29, conv1:4,conv5:29', model), [96 + 29, 4]);
    assert.throws(() => parseUnits('conv9:1', model), PssError);
    assert.throws(
      () => parseUnits('conv9:1', model),
      /--filters: "conv9:1" is not layer:index with a conv layer of fashion-cnn \(conv1, conv2, conv3, \.\.\.\)/,
    );
    assert.throws(() => parseUnits('conv1:16', model), /--filters: conv1 has filters 0\.\.15, not 16/);
    assert.throws(() => parseUnits('conv1', model), /"conv1" is not layer:index/);
    assert.throws(() => parseUnits('', model), /"" is not layer:index/);
  });
});

describe('ranking', () => {
  it('NaN never ranks first, from either end; ties go to the lower position', () => {
    const v = [1, Number.NaN, 3, 3, -2, Number.POSITIVE_INFINITY, Number.NaN, -5];
    assert.deepEqual(topK(v, 8), [5, 2, 3, 0, 4, 7, 1, 6]);
    assert.deepEqual(topK(v, 8, 'z', 'smallest'), [7, 4, 0, 2, 3, 5, 1, 6]);
    assert.deepEqual(topK(v, 3, 'abs-z'), [5, 7, 2]);
    assert.deepEqual(topK(v, 3, 'abs-z', 'smallest'), [0, 4, 2]);
    assert.deepEqual(topK([Number.NaN, Number.NaN], 1), [0]);
    assert.deepEqual(topK(v, 0), []);
  });

  it('topFilters names what topK ranks', () => {
    const z = Float32Array.from({ length: tiny.filterCount }, (_, i) => Math.sin(i));
    const ranked = topFilters(z, unitTable(tiny), 5);
    assert.deepEqual(
      ranked.map((r) => r.index),
      topK(z, 5),
    );
    for (const r of ranked) assert.deepEqual({ ...locate(r.index, unitTable(tiny)), value: z[r.index] }, r);
  });
});

describe('turning units off', () => {
  it('one mask row per image: 0 for the units off, 1 elsewhere; bad positions refused', () => {
    const m = unitsOffMask(4, [[1, 3], [], [0]]);
    assert.deepEqual([...m], [1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1]);
    assert.throws(() => unitsOffMask(4, [[4]]), /filter index 4 is out of range 0\.\.3/);
  });
});
