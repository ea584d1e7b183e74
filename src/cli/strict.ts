/**
 * Strict flags: citty keeps unknown flags and stray words as extra properties, so
 * `--stat x` (for --stats) or `--boost-factor 5` would silently run with the defaults.
 * Every argument is checked against the command's definition before it runs; a mistake is
 * one line with a "did you mean".
 */
import type { ArgsDef } from 'citty';
import { PssError } from '../errors.js';

interface FlagDef {
  type?: string;
  alias?: string | string[];
  options?: readonly string[];
}

/** Damerau–Levenshtein distance (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.length][b.length];
}

/** The closest of `candidates` to `word`, when it is close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    // A prefix either way ("--stat", "--boost-factor") counts as close.
    const d = c.startsWith(word) || word.startsWith(c) ? 0.5 : editDistance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

const didYouMean = (word: string, candidates: readonly string[], prefix = '') => {
  const c = closest(word, candidates);
  return c === undefined ? '' : ` (did you mean ${prefix}${c}?)`;
};

/**
 * Checks argv (without the command words) against a command's flags. `operands` says
 * whether the command takes words after its flags (`stats merge a b`). Throws a PssError
 * for an unknown flag, a stray word, a flag without its value, an empty value, an enum value
 * outside its options, or a flag given twice.
 */
export function checkArgv(argv: readonly string[], args: ArgsDef, command: string, operands = false): void {
  const flags = new Map<string, FlagDef>();
  for (const [name, def] of Object.entries(args) as [string, FlagDef][]) {
    if (def.type === 'positional') continue;
    flags.set(name, def);
    for (const a of [def.alias ?? []].flat()) flags.set(a, def);
  }
  const names = [...flags.keys()].filter((n) => n.length > 1);
  const seen = new Set<FlagDef>();
  const fail = (msg: string): never => {
    throw new PssError(`${msg}; see ${command} --help`);
  };
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === '--') {
      if (!operands && i + 1 < argv.length) fail(`unexpected argument "${argv[i + 1]}"`);
      break;
    }
    if (!token.startsWith('-') || token === '-' || /^-\d/.test(token)) {
      // A flag name without its dashes ("label 3") is the one likely slip worth naming.
      const flag = names.find((n) => editDistance(n, token) <= 1);
      if (!operands)
        fail(
          `unexpected argument "${token}": ${command} takes only --flags${flag ? ` (did you mean --${flag}?)` : ''}`,
        );
      continue;
    }
    const eq = token.indexOf('=');
    const raw = token.replace(/^--?/, '');
    const name = eq < 0 ? raw : raw.slice(0, raw.indexOf('='));
    let def = flags.get(name);
    let negated = false;
    if (!def && name.startsWith('no-') && flags.get(name.slice(3))?.type === 'boolean') {
      def = flags.get(name.slice(3));
      negated = true;
    }
    const shown = token.startsWith('--') ? `--${name}` : `-${name}`;
    if (!def) fail(`unknown option ${shown}${didYouMean(name, names, '--')}`);
    const flag = def!;
    if (seen.has(flag)) fail(`${shown} is given more than once`);
    seen.add(flag);
    if (flag.type === 'boolean') {
      if (eq >= 0 && (negated || !/^(true|false)$/.test(token.slice(eq + 1))))
        fail(`${shown} is a switch: give it alone, without a value`);
      continue;
    }
    let value: string;
    if (eq >= 0) value = token.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2))
        fail(`${shown} needs a value${next === undefined ? '' : ` (got the option ${next})`}`);
      value = next;
      i += 1;
    }
    if (value.trim() === '') fail(`${shown} is empty; give it a value`);
    if (flag.options && !flag.options.includes(value))
      fail(
        `${shown} must be one of ${flag.options.join(', ')}, got "${value}"${didYouMean(value, flag.options)}`,
      );
  }
}
