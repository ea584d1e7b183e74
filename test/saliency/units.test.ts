/** The vocabulary of positions: the unit table, locate and its inverse, --filters, ranking, turning units off. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PssError } from '../../src/errors.js';
import { loadModel } from '../../src/models/load.js';
import { Model } from '../../src/models/model.js';
import { tinycnn } from '../../src/models/tinycnn.js';
import { topFilters, topK } from '../../src/saliency/rank.js';
import { locate, parseUnits, unitIndex, unitLabel, unitsOffMask } from '../../src/saliency/units.js';

const tiny = Model.deterministic(tinycnn);

describe('the unit table', () => {
  it("is model.layers, in parameter order: filters by default, the fc's neurons with filters+neurons", () => {
    assert.equal(tiny.units, 'filters');
    assert.deepEqual(
      tiny.layers.map(({ name, param, offset, filters, kind }) => [name, param, offset, filters, kind]),
      [
        ['conv1', 'conv1.weight', 0, 16, 'filter'],
        ['conv2', 'conv2.weight', 16, 32, 'filter'],
        ['conv3', 'conv3.weight', 48, 32, 'filter'],
        ['conv4', 'conv4.weight', 80, 48, 'filter'],
        ['conv5', 'conv5.weight', 128, 64, 'filter'],
      ],
    );
    assert.equal(tiny.unitCount, 192);
    const more = tiny.withUnits('filters+neurons');
    assert.equal(more.weights, tiny.weights);
    assert.equal(more.weightsHash(), tiny.weightsHash());
    assert.deepEqual(more.layers.slice(0, 5), tiny.layers);
    assert.deepEqual(
      more.layers
        .slice(5)
        .map(({ name, offset, filters, kind, rowsPerUnit }) => [name, offset, filters, kind, rowsPerUnit]),
      [['fc', 192, 10, 'neuron', 1]],
    );
    assert.equal(more.unitCount, 202);
    assert.equal(more.withUnits('filters').unitCount, 192);
    assert.equal(tiny.withUnits('filters'), tiny);
  });

  it('locate and unitIndex are inverses over every position', () => {
    const table = tiny.layers;
    for (let i = 0; i < tiny.unitCount; i++) {
      const u = locate(i, table);
      assert.equal(u.index, i);
      assert.equal(u.kind, 'filter');
      assert.equal(unitIndex(table, u.layer, u.filter), i);
    }
    assert.deepEqual(locate(16, table), { index: 16, layer: 'conv2', filter: 0, kind: 'filter' });
  });

  it('positions outside every layer, and gaps between layers, are refused with one line', () => {
    const table = tiny.layers;
    for (const bad of [-1, tiny.unitCount, 2.5, Number.NaN])
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

  it("names neurons by row, and a head layer's units as q3, k3, v3 too", () => {
    const withFc = tiny.withUnits('filters+neurons');
    assert.deepEqual(parseUnits('fc:3,conv1:0', withFc), [195, 0]);
    assert.throws(() => parseUnits('fc:10', withFc), /--filters: fc has neurons 0\.\.9, not 10/);
    assert.throws(() => parseUnits('fc:q1', withFc), /fc has no heads: name its neurons by index/);
    assert.throws(() => parseUnits('fc:1', tiny), /"fc:1" is not layer:index with a conv layer of tinycnn/);
    // 4 heads: units q0..q3, k0..k3, v0..v3
    const attn = {
      name: 'vit',
      layers: [
        { name: 'conv', offset: 0, filters: 8 },
        { name: 'attn', offset: 8, filters: 12, kind: 'head' as const },
      ],
    };
    assert.deepEqual(parseUnits('attn:q0,attn:k3,attn:v1,attn:11', attn), [8, 15, 17, 19]);
    // unitLabel names them back as --filters takes them
    const head = attn.layers[1];
    assert.deepEqual(
      Array.from({ length: 12 }, (_, i) => unitLabel(head, i)),
      ['q0', 'q1', 'q2', 'q3', 'k0', 'k1', 'k2', 'k3', 'v0', 'v1', 'v2', 'v3'],
    );
    for (let i = 0; i < 12; i++) assert.deepEqual(parseUnits(`attn:${unitLabel(head, i)}`, attn), [8 + i]);
    assert.equal(unitLabel(attn.layers[0], 5), '5');
    assert.throws(() => parseUnits('attn:k4', attn), /attn has heads 0\.\.3, not 4/);
    assert.throws(() => parseUnits('attn:12', attn), /attn has head units 0\.\.11, not 12/);
    assert.throws(() => parseUnits('x:1', attn), /with a unit layer of vit/);
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
    const z = Float32Array.from({ length: tiny.unitCount }, (_, i) => Math.sin(i));
    const ranked = topFilters(z, tiny.layers, 5);
    assert.deepEqual(
      ranked.map((r) => r.index),
      topK(z, 5),
    );
    for (const r of ranked) assert.deepEqual({ ...locate(r.index, tiny.layers), value: z[r.index] }, r);
  });
});

describe('turning units off', () => {
  it('one mask row per image: 0 for the units off, 1 elsewhere; bad positions refused', () => {
    const m = unitsOffMask(4, [[1, 3], [], [0]]);
    assert.deepEqual([...m], [1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1]);
    assert.throws(() => unitsOffMask(4, [[4]]), /unit index 4 is out of range 0\.\.3/);
  });
});
