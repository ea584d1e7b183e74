/**
 * Errors a user can fix (a bad path, a malformed file, a label out of range) are PssErrors:
 * the CLI prints their message alone and exits 1. Anything else is a bug and keeps its stack.
 */
export class PssError extends Error {
  override name = 'PssError';
}

/**
 * Text taken from a file (a tensor name, a dtype), quoted for a one-line message: control
 * characters and line separators shown as �, and cut at `max` characters.
 */
export function quoted(text: string, max = 60): string {
  const visible = text.replace(/[\p{Cc}\u2028\u2029]/gu, '\ufffd');
  return JSON.stringify(visible.length > max ? `${visible.slice(0, max)}…` : visible);
}
