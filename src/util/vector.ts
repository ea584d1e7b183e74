/** Small vector arithmetic shared by the experiments and the tests. */

/** Cosine similarity (0 when either vector is zero). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

/** The index of the first NaN or ±Infinity, or -1 when every value is finite. */
export function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

/** A flat C-order index as a position in `shape`: 7 in [2, 3, 4] → "[0, 1, 3]". */
export function positionOf(index: number, shape: readonly number[]): string {
  const pos = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    pos[d] = index % shape[d];
    index = Math.floor(index / shape[d]);
  }
  return `[${pos.join(', ')}]`;
}

/** "NaN at [0, 1, 3]" for the first non-finite value, or undefined when all are finite. */
export function describeNonFinite(a: ArrayLike<number>, shape: readonly number[]): string | undefined {
  const i = firstNonFinite(a);
  return i < 0
    ? undefined
    : `${a[i]} at ${shape.length > 1 ? `index ${positionOf(i, shape)}` : `index ${i}`}`;
}
