/**
 * Which dataset items a statistics file summarises, so that a merge can refuse to count an
 * item twice: per dataset (its identity, as Dataset.identity names it), sorted, disjoint,
 * half-open index ranges [begin, end) — items tried, whether read or skipped.
 */
import { PssError } from '../errors.js';

export interface Coverage {
  dataset: string;
  ranges: [number, number][];
}

/** "items 0-19" (inclusive, as people count) for [[0, 20]]. */
export function describeRanges(ranges: readonly (readonly [number, number])[]): string {
  if (!ranges.length) return 'no items';
  const one = ([b, e]: readonly [number, number]) => (e - b === 1 ? `${b}` : `${b}-${e - 1}`);
  return `item${ranges.length === 1 && ranges[0][1] - ranges[0][0] === 1 ? '' : 's'} ${ranges.map(one).join(', ')}`;
}

export const coveredItems = (c: readonly Coverage[]): number =>
  c.reduce((n, d) => n + d.ranges.reduce((m, [b, e]) => m + e - b, 0), 0);

/** The coverage metadata field as JSON. */
export const formatCoverage = (c: readonly Coverage[]): string => JSON.stringify(c);

/** Parses and checks the coverage field; `where` names the file in messages. */
export function parseCoverage(text: string, where: string): Coverage[] {
  const bad = (why: string): never => {
    throw new PssError(`${where}: metadata field "coverage" ${why}`);
  };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return bad('is not JSON');
  }
  if (!Array.isArray(value)) return bad('is not a list of {dataset, ranges}');
  const seen = new Set<string>();
  return value.map((entry, i) => {
    const { dataset, ranges } = (entry ?? {}) as { dataset?: unknown; ranges?: unknown };
    if (typeof dataset !== 'string' || !dataset) return bad(`entry ${i} names no dataset`);
    if (seen.has(dataset)) return bad(`names dataset ${dataset} twice`);
    seen.add(dataset);
    if (!Array.isArray(ranges)) return bad(`entry ${i} has no list of ranges`);
    let last = -1;
    for (const [j, r] of ranges.entries()) {
      const ok =
        Array.isArray(r) &&
        r.length === 2 &&
        r.every((x) => Number.isSafeInteger(x) && x >= 0) &&
        r[0] < r[1] &&
        r[0] > last;
      if (!ok) return bad(`entry ${i}, range ${j} is not [begin, end) after the previous one`);
      last = r[1];
    }
    return { dataset, ranges: ranges as [number, number][] };
  });
}

/** Where two coverages share items: the dataset and the shared items, or undefined. */
export function overlap(
  a: readonly Coverage[],
  b: readonly Coverage[],
): { dataset: string; items: string } | undefined {
  for (const da of a) {
    const db = b.find((d) => d.dataset === da.dataset);
    if (!db) continue;
    const shared: [number, number][] = [];
    for (const [b0, e0] of da.ranges)
      for (const [b1, e1] of db.ranges) {
        const [lo, hi] = [Math.max(b0, b1), Math.min(e0, e1)];
        if (lo < hi) shared.push([lo, hi]);
      }
    if (shared.length)
      return { dataset: da.dataset, items: describeRanges(shared.sort((x, y) => x[0] - y[0])) };
  }
  return undefined;
}

/** The union of coverages (adjacent ranges joined). */
export function unionCoverage(parts: readonly (readonly Coverage[])[]): Coverage[] {
  const byDataset = new Map<string, [number, number][]>();
  for (const c of parts)
    for (const d of c) byDataset.set(d.dataset, [...(byDataset.get(d.dataset) ?? []), ...d.ranges]);
  return [...byDataset].map(([dataset, ranges]) => {
    const joined: [number, number][] = [];
    for (const [b, e] of [...ranges].sort((x, y) => x[0] - y[0])) {
      const last = joined[joined.length - 1];
      if (last && b <= last[1]) last[1] = Math.max(last[1], e);
      else joined.push([b, e]);
    }
    return { dataset, ranges: joined };
  });
}
