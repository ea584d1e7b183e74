import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PssError } from '../../src/errors.js';
import { classNamesFor, IMAGENET_CLASSES, resolveLabel } from '../../src/image/labels.js';

const resolve = (t: string) => resolveLabel(t, IMAGENET_CLASSES);
const fails = (t: string, pattern: RegExp) =>
  assert.throws(
    () => resolve(t),
    (e: Error) => e instanceof PssError && !e.message.includes('\n') && pattern.test(e.message),
  );

describe('ImageNet class names', () => {
  it("are torchvision's 1000, in order", () => {
    assert.equal(IMAGENET_CLASSES.length, 1000);
    assert.equal(IMAGENET_CLASSES[0], 'tench');
    assert.equal(IMAGENET_CLASSES[2], 'great white shark');
    assert.equal(IMAGENET_CLASSES[148], 'killer whale');
    assert.equal(IMAGENET_CLASSES[999], 'toilet tissue');
    assert.ok(Object.isFrozen(IMAGENET_CLASSES));
  });
  it('are known for 1000-class models only', () => {
    assert.equal(classNamesFor(1000), IMAGENET_CLASSES);
    assert.equal(classNamesFor(10), undefined);
  });
});

describe('resolveLabel', () => {
  it('an index', () => {
    assert.equal(resolve('2'), 2);
    assert.equal(resolve(' 999 '), 999);
    fails('1000', /label 1000 is out of range: classes are 0\.\.999/);
    fails('-1', /out of range/);
  });
  it('an exact name, any case, underscores for spaces', () => {
    assert.equal(resolve('great white shark'), 2);
    assert.equal(resolve('Great_White_Shark'), 2);
    assert.equal(resolve('  killer   whale '), 148);
    assert.equal(resolve('tiger'), 292); // exact beats "tiger shark", "tiger cat", ...
  });
  it('a unique prefix or substring', () => {
    assert.equal(resolve('goldfis'), 1);
    assert.equal(resolve('goldfin'), 11);
    assert.equal(resolve('jack-o'), 607);
    assert.equal(resolve('white shark'), 2);
  });
  it('a name two classes share: the exact case decides, else an error', () => {
    assert.equal(resolve('Cardigan'), 264); // the corgi
    assert.equal(resolve('cardigan'), 474); // the sweater
    fails('CARDIGAN', /names 2 classes: "Cardigan" \(264\), "cardigan" \(474\); give the index/);
  });
  it('ambiguous text lists the candidates (prefix matches first)', () => {
    fails(
      'shark',
      /"shark" is ambiguous: 2 class names contain it: "great white shark" \(2\), "tiger shark" \(3\)/,
    );
    fails('cat', /ambiguous: \d+ class names contain it: "catamaran" \(484\), .*"tiger cat" \(282\)/);
    fails('dog', /… \d+ more/);
  });
  it('unknown text suggests close names', () => {
    fails('goldfsh', /unknown class name "goldfsh"; did you mean "goldfish" \(1\)\?/);
    fails('sharkk', /did you mean "great white shark" \(2\), "tiger shark" \(3\)/);
    fails('zzzzqqq', /unknown class name "zzzzqqq"; give a class index or a class name/);
    fails('  ', /label is empty/);
  });
  it('works with any list of names', () => {
    assert.equal(resolveLabel('B', ['a', 'b', 'c']), 1);
    assert.throws(() => resolveLabel('3', ['a', 'b', 'c']), /classes are 0\.\.2/);
  });
});
