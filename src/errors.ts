/**
 * Errors a user can fix (a bad path, a malformed file, a label out of range) are PssErrors:
 * the CLI prints their message alone and exits 1. Anything else is a bug and keeps its stack.
 */
export class PssError extends Error {
  override name = 'PssError';
}
