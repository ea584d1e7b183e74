/**
 * Errors a user can fix (a bad path, a malformed file, a label out of range) are PssErrors:
 * the CLI prints their message alone and exits 1. Anything else is a bug and keeps its stack.
 */
export class PssError extends Error {
  override name = 'PssError';
  /**
   * One line, always: text copied from a file into a message (a metadata value, a tensor
   * name) may hold line breaks or control characters, shown as �.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(oneLine(message), options);
  }
}

const oneLine = (text: string) => text.replace(/[\p{Cc}\u2028\u2029]/gu, '\ufffd');

/**
 * Text taken from a file (a tensor name, a dtype), quoted for a one-line message: control
 * characters and line separators shown as �, and cut at `max` characters.
 */
export function quoted(text: string, max = 60): string {
  const visible = text.replace(/[\p{Cc}\u2028\u2029]/gu, '\ufffd');
  return JSON.stringify(visible.length > max ? `${visible.slice(0, max)}…` : visible);
}
