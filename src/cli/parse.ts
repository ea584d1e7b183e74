/** Checked conversions of flag values, each failing with a message that names the flag. */
import { PssError } from '../errors.js';

export function intFlag(value: string | undefined, flag: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const n = value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new PssError(`--${flag} must be an integer >= ${min}, got "${value}"`);
  return n;
}

export function requiredInt(value: string | undefined, flag: string, min = 0): number {
  const n = intFlag(value, flag, min);
  if (n === undefined) throw new PssError(`--${flag} is required`);
  return n;
}

/** A finite number in [min, max] (either end optional), or undefined when the flag is absent. */
export function numberFlag(
  value: string | undefined,
  flag: string,
  min = Number.NEGATIVE_INFINITY,
  max = Number.POSITIVE_INFINITY,
): number | undefined {
  if (value === undefined) return undefined;
  const n = value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(n) || n < min || n > max) {
    const range = Number.isFinite(max)
      ? `between ${min} and ${max}`
      : Number.isFinite(min)
        ? `>= ${min}`
        : 'finite';
    throw new PssError(`--${flag} must be a number ${range}, got "${value}"`);
  }
  return n;
}
