/**
 * The property every parser must hold, for one input: it returns a valid result or throws a
 * PssError whose message is one line of reasonable length — no other error type — within a
 * time bound, without growing memory beyond the target's bound.
 */
import { PssError } from '../../src/errors.js';
import type { Target } from './targets.js';

/** The longest message a user should read as "one line". */
export const MAX_MESSAGE = 400;

export interface CaseResult {
  outcome: 'ok' | 'refused';
  /** The PssError's message, when refused. */
  message?: string;
  ms: number;
}

/** A broken property: the case is a bug. */
export class FuzzFailure extends Error {
  override name = 'FuzzFailure';
}

const memory = () => {
  const m = process.memoryUsage();
  return m.arrayBuffers + m.heapUsed;
};
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

export async function checkCase(target: Target, bytes: Uint8Array, caseMs: number): Promise<CaseResult> {
  const before = memory();
  const start = performance.now();
  let result: CaseResult;
  try {
    await target.run(bytes);
    result = { outcome: 'ok', ms: 0 };
  } catch (e) {
    if (!(e instanceof PssError)) {
      const what = e instanceof Error ? `${e.name}: ${e.message.split('\n')[0]}` : `a thrown ${typeof e}`;
      throw new FuzzFailure(`not a PssError: ${what}`, { cause: e });
    }
    if (/[\n\r]/.test(e.message))
      throw new FuzzFailure(`a PssError of several lines: ${JSON.stringify(e.message)}`);
    if (e.message.length > MAX_MESSAGE)
      throw new FuzzFailure(`a PssError of ${e.message.length} characters: ${e.message.slice(0, 200)}…`);
    result = { outcome: 'refused', message: e.message, ms: 0 };
  }
  result.ms = performance.now() - start;
  const grew = memory() - before;
  if (result.ms > caseMs)
    throw new FuzzFailure(`took ${result.ms.toFixed(0)} ms (limit ${caseMs} ms) on ${bytes.length} bytes`);
  if (grew > target.memoryBound(bytes.length))
    throw new FuzzFailure(
      `memory grew by ${mib(grew)} for ${bytes.length} bytes of input (bound ${mib(target.memoryBound(bytes.length))})`,
    );
  return result;
}
