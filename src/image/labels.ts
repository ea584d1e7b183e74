/** Class labels by name: ImageNet's 1000 class names and matching a user's text against them. */
import { PssError } from '../errors.js';
import { IMAGENET_CLASSES } from './imagenet-classes.js';

export { IMAGENET_CLASSES };

/** The class names of a model with `numClasses` outputs, when pss knows them (ImageNet-1k). */
export function classNamesFor(numClasses: number, own?: readonly string[]): readonly string[] | undefined {
  if (own?.length === numClasses) return own;
  return numClasses === IMAGENET_CLASSES.length ? IMAGENET_CLASSES : undefined;
}

const normalise = (s: string) => s.trim().replace(/_/g, ' ').replace(/\s+/g, ' ').toLowerCase();

function listing(indices: readonly number[], names: readonly string[], max = 8): string {
  const shown = indices.slice(0, max).map((i) => `"${names[i]}" (${i})`);
  if (indices.length > max) shown.push(`… ${indices.length - max} more`);
  return shown.join(', ');
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** Names close to `q`: by edit distance to the whole name or to one of its words. */
function suggestions(q: string, names: readonly string[]): number[] {
  const scored = names.map((name, i) => {
    const n = normalise(name);
    const whole = levenshtein(q, n);
    const word = Math.min(...n.split(/[ ,'-]+/).map((w) => levenshtein(q, w) + 1));
    return { i, d: Math.min(whole, word) };
  });
  const limit = Math.max(2, Math.floor(q.length / 3));
  return scored
    .filter((s) => s.d <= limit)
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .slice(0, 5)
    .map((s) => s.i);
}

/**
 * A class index from a label given as text: an integer index, or a class name matched
 * case-insensitively (underscores read as spaces): an exact match first, else the one name that
 * starts with or contains the text. Ambiguous text is an error listing the candidates (a
 * case-sensitive exact match settles "Cardigan" (the corgi) versus "cardigan" (the sweater));
 * unknown text is an error with "did you mean" suggestions.
 */
export function resolveLabel(text: string, classNames: readonly string[]): number {
  const k = classNames.length;
  const t = text.trim();
  if (/^[+-]?\d+$/.test(t)) {
    const i = Number(t);
    if (i < 0 || i >= k) throw new PssError(`label ${t} is out of range: classes are 0..${k - 1}`);
    return i;
  }
  const q = normalise(t);
  if (!q) throw new PssError('label is empty: give a class index or a class name');
  const names = classNames.map(normalise);
  const all = names.map((_, i) => i);

  const exact = all.filter((i) => names[i] === q);
  if (exact.length === 1) return exact[0];
  if (exact.length > 1) {
    const sameCase = exact.filter((i) => classNames[i] === t);
    if (sameCase.length === 1) return sameCase[0];
    throw new PssError(
      `label "${t}" names ${exact.length} classes: ${listing(exact, classNames)}; give the index`,
    );
  }
  // Prefix and substring matches form one tier, so that "cat" lists the cats instead of
  // silently meaning "catamaran", its only prefix match. Prefix matches are listed first.
  const found = all.filter((i) => names[i].includes(q));
  if (found.length === 1) return found[0];
  if (found.length > 1) {
    const starts = (i: number) => (names[i].startsWith(q) ? 0 : 1);
    found.sort((a, b) => starts(a) - starts(b) || a - b);
    throw new PssError(
      `label "${t}" is ambiguous: ${found.length} class names contain it: ${listing(found, classNames)}; give more of the name or the index`,
    );
  }
  const close = suggestions(q, classNames);
  throw new PssError(
    `unknown class name "${t}"` +
      (close.length
        ? `; did you mean ${listing(close, classNames)}?`
        : '; give a class index or a class name'),
  );
}
