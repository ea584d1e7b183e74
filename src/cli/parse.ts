/** Checked conversions of flag values, each failing with a message that names the flag. */
import { PssError } from '../errors.js';

export function intFlag(value: string | undefined, flag: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new PssError(`--${flag} must be an integer >= ${min}, got "${value}"`);
  return n;
}

export function requiredInt(value: string | undefined, flag: string, min = 0): number {
  const n = intFlag(value, flag, min);
  if (n === undefined) throw new PssError(`--${flag} is required`);
  return n;
}
