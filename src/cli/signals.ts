/**
 * Ctrl+C and termination: one line, the terminal as it was (progress bars hide the cursor
 * and turn off line wrapping), and the conventional exit code. Temporary files are removed
 * by the exit handlers of src/io (files.ts, lock.ts).
 */

/** Shows the cursor and turns line wrapping back on, when stderr is a terminal. */
export function restoreTerminal(): void {
  if (process.stderr.isTTY) process.stderr.write('\x1b[?25h\x1b[?7h\n');
}

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

/**
 * Installs the handlers for one command. `hint` completes the line ("rerun with --resume to
 * continue") for commands that can pick up where they stopped.
 */
export function exitOnSignals(hint?: string): void {
  for (const [signal, code] of Object.entries(EXIT_CODES)) {
    process.once(signal, () => {
      restoreTerminal();
      process.stderr.write(
        `pss: ${signal === 'SIGINT' ? 'interrupted' : `stopped by ${signal}`}${hint ? `; ${hint}` : ''}\n`,
      );
      process.exit(code);
    });
  }
  // A closed pipe (`pss ... --json - | head`) is the reader's choice, not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}
