/**
 * Fuzz inputs: random bytes, and — more useful — valid seed files with a few structured
 * mutations (bit flips, overwrites, truncations, insertions, deletions, splices of another
 * seed, binary integer fields and decimal numbers in headers set to extreme values, and the
 * format's own tokens dropped in). Mutations are plain data, so fast-check shrinks a failing
 * case to the fewest and smallest mutations that still fail.
 */
import fc from 'fast-check';

/** Values that break length, count and offset arithmetic. */
export const EXTREME_INTS = [
  0,
  1,
  2,
  3,
  7,
  8,
  255,
  256,
  65535,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 1,
  2 ** 63,
  2 ** 64 - 1,
  -1,
  -(2 ** 31),
];
/** Replacements for a decimal number in a text header (JSON, a Python dict, a pickle line). */
const EXTREME_TEXT = [
  '0',
  '1',
  '-1',
  '2147483648',
  '4294967296',
  '9007199254740992',
  '18446744073709551616',
  '1e400',
  '-0',
  '1.5',
  'NaN',
  'Infinity',
  '',
  '"x"',
  'null',
  '[]',
  '{}',
  'true',
];

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'overwrite'; at: number; bytes: Uint8Array }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'splice'; at: number; seed: number; from: number; length: number }
  | { kind: 'int'; at: number; width: 1 | 2 | 4 | 8; littleEndian: boolean; value: number }
  | { kind: 'number'; which: number; text: string }
  | { kind: 'token'; at: number; token: number; replace: boolean };

const position = fc.nat({ max: 1 << 24 });

export function mutationArbitrary(tokenCount: number): fc.Arbitrary<Mutation> {
  const bytes = fc.uint8Array({ minLength: 1, maxLength: 16 });
  const arbitraries: fc.Arbitrary<Mutation>[] = [
    fc.record({ kind: fc.constant('flip' as const), at: position, bit: fc.nat({ max: 7 }) }),
    fc.record({ kind: fc.constant('overwrite' as const), at: position, bytes }),
    fc.record({ kind: fc.constant('truncate' as const), at: position }),
    fc.record({ kind: fc.constant('insert' as const), at: position, bytes }),
    fc.record({
      kind: fc.constant('delete' as const),
      at: position,
      length: fc.integer({ min: 1, max: 64 }),
    }),
    fc.record({
      kind: fc.constant('splice' as const),
      at: position,
      seed: fc.nat(),
      from: position,
      length: fc.integer({ min: 1, max: 256 }),
    }),
    fc.record({
      kind: fc.constant('int' as const),
      at: position,
      width: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
      littleEndian: fc.boolean(),
      value: fc.constantFrom(...EXTREME_INTS),
    }),
    fc.record({
      kind: fc.constant('number' as const),
      which: fc.nat(),
      text: fc.constantFrom(...EXTREME_TEXT),
    }),
  ];
  if (tokenCount)
    arbitraries.push(
      fc.record({
        kind: fc.constant('token' as const),
        at: position,
        token: fc.nat({ max: tokenCount - 1 }),
        replace: fc.boolean(),
      }),
    );
  return fc.oneof(...arbitraries);
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

function setInt(out: Uint8Array, at: number, width: number, littleEndian: boolean, value: number) {
  // two's complement of the value, width bytes of it
  let v = BigInt.asUintN(64, BigInt(Math.trunc(value)));
  for (let i = 0; i < width && at + i < out.length; i++) {
    out[littleEndian ? at + i : at + width - 1 - i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** The decimal numbers in the bytes read as Latin-1 text: [start, end) of each. */
function numbersIn(bytes: Uint8Array): [number, number][] {
  const spans: [number, number][] = [];
  for (let i = 0; i < bytes.length && spans.length < 4096; i++) {
    if (bytes[i] < 0x30 || bytes[i] > 0x39) continue;
    const start = i;
    while (i < bytes.length && bytes[i] >= 0x30 && bytes[i] <= 0x39) i++;
    spans.push([start, i]);
  }
  return spans;
}

/** A copy: `slice` on a Node Buffer (what protobufjs and fs return) is a view of the same memory. */
const copy = (b: Uint8Array) => new Uint8Array(b);

export function applyMutation(
  input: Uint8Array,
  m: Mutation,
  seeds: readonly Uint8Array[],
  tokens: readonly Uint8Array[],
): Uint8Array {
  const n = input.length;
  const at = n ? (m.kind === 'number' ? 0 : (m as { at: number }).at % (n + 1)) : 0;
  switch (m.kind) {
    case 'flip': {
      if (!n) return input;
      const out = copy(input);
      out[at % n] ^= 1 << m.bit;
      return out;
    }
    case 'overwrite': {
      const out = copy(input);
      out.set(m.bytes.subarray(0, Math.max(0, n - at)), at);
      return out;
    }
    case 'truncate':
      return copy(input.subarray(0, at));
    case 'insert':
      return concat(input.subarray(0, at), m.bytes, input.subarray(at));
    case 'delete':
      return concat(input.subarray(0, at), input.subarray(at + m.length));
    case 'splice': {
      const other = seeds[m.seed % seeds.length];
      const from = other.length ? m.from % other.length : 0;
      return concat(
        input.subarray(0, at),
        other.subarray(from, from + m.length),
        input.subarray(at + m.length),
      );
    }
    case 'int': {
      const out = copy(input);
      setInt(out, at, m.width, m.littleEndian, m.value);
      return out;
    }
    case 'number': {
      const spans = numbersIn(input);
      if (!spans.length) return input;
      const [s, e] = spans[m.which % spans.length];
      return concat(input.subarray(0, s), new TextEncoder().encode(m.text), input.subarray(e));
    }
    case 'token': {
      const t = tokens[m.token % tokens.length];
      return m.replace
        ? concat(input.subarray(0, at), t, input.subarray(at + t.length))
        : concat(input.subarray(0, at), t, input.subarray(at));
    }
  }
}

export interface InputSource {
  seeds: readonly Uint8Array[];
  /** Byte strings that mean something in the format (magic numbers, keys, opcodes, dtypes). */
  tokens?: readonly (string | Uint8Array)[];
  /** Bytes every file of the format starts with, to prefix random bytes with. */
  magic?: Uint8Array;
  /** Fix-ups applied after mutating, one chosen at random (or none): recompute checksums, compress. */
  repairs?: readonly ((bytes: Uint8Array) => Uint8Array)[];
  /** Format-aware inputs (edits of decoded structure), mixed in with the byte-level ones. */
  structured?: fc.Arbitrary<Uint8Array>;
}

/**
 * Byte-level mutations of a part inside a container (the pickle inside a zip), the container
 * rebuilt around it so that the mutation reaches the inner parser.
 */
export function innerMutations(
  containers: readonly Uint8Array[],
  open: (container: Uint8Array) => { inner: Uint8Array; rebuild: (inner: Uint8Array) => Uint8Array },
  tokens: readonly (string | Uint8Array)[] = [],
): fc.Arbitrary<Uint8Array> {
  const opened = containers.map(open);
  const inners = opened.map((o) => o.inner);
  const bytesTokens = tokens.map((t) => (typeof t === 'string' ? new TextEncoder().encode(t) : t));
  return fc
    .tuple(
      fc.nat({ max: opened.length - 1 }),
      fc.array(mutationArbitrary(bytesTokens.length), { minLength: 1, maxLength: 4 }),
    )
    .map(([i, ms]) =>
      opened[i].rebuild(ms.reduce((b, m) => applyMutation(b, m, inners, bytesTokens), inners[i])),
    );
}

/** A seed with 1–6 mutations (mostly), random bytes, or the format's magic then random bytes. */
export function inputArbitrary(source: InputSource): fc.Arbitrary<Uint8Array> {
  const tokens = (source.tokens ?? []).map((t) => (typeof t === 'string' ? new TextEncoder().encode(t) : t));
  const seeds = source.seeds.map(copy);
  const repairs = source.repairs ?? [];
  const mutated = fc
    .tuple(
      fc.nat({ max: seeds.length - 1 }),
      fc.array(mutationArbitrary(tokens.length), { minLength: 1, maxLength: 6 }),
      fc.nat({ max: 2 * repairs.length }),
    )
    .map(([s, ms, r]) => {
      const bytes = ms.reduce<Uint8Array>((b, m) => applyMutation(b, m, seeds, tokens), seeds[s]);
      return r < repairs.length ? repairs[r](bytes) : bytes;
    });
  const random = fc.uint8Array({ maxLength: 512 });
  const magic = source.magic;
  return fc.oneof(
    { weight: source.structured ? 8 : 16, arbitrary: mutated },
    ...(source.structured ? [{ weight: 8, arbitrary: source.structured }] : []),
    { weight: 1, arbitrary: random },
    ...(magic ? [{ weight: 1, arbitrary: random.map((r) => concat(magic, r)) }] : []),
  );
}
