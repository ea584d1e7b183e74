/**
 * The `pss` command line. Commands load lazily; user errors (PssError, bad flags) print one
 * line and exit 1, anything else is a bug and prints its stack.
 */

import { readFileSync } from 'node:fs';
import { type ArgsDef, type CommandDef, defineCommand, runCommand } from 'citty';
import { PssError } from '../errors.js';
import { type HelpExtras, renderHelp } from './help.js';
import { exitOnSignals } from './signals.js';
import { checkArgv, closest } from './strict.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export const main = defineCommand({
  meta: {
    name: 'pss',
    version,
    description:
      'Parameter-space saliency: find the convolution filters behind a misclassification, and the pixels that drive them.',
  },
  subCommands: {
    saliency: () => import('./commands/saliency.js').then((m) => m.default),
    inspect: () => import('./commands/inspect.js').then((m) => m.default),
    stats: () => import('./commands/stats.js').then((m) => m.default),
    explain: () => import('./commands/explain.js').then((m) => m.default),
    serve: () => import('./commands/serve.js').then((m) => m.default),
    prune: () => import('./commands/prune.js').then((m) => m.default),
    neighbors: () => import('./commands/neighbors.js').then((m) => m.default),
    finetune: () => import('./commands/finetune.js').then((m) => m.default),
    profile: () => import('./commands/profile.js').then((m) => m.default),
    correction: () => import('./commands/correction.js').then((m) => m.default),
  },
});

/** `ownSignals`: the command stops itself on SIGINT/SIGTERM (the server shuts down cleanly). */
type Command = CommandDef & { help?: HelpExtras; ownSignals?: boolean };

const resolveValue = async <T>(v: T | (() => T | Promise<T>)): Promise<T> =>
  typeof v === 'function' ? (v as () => T | Promise<T>)() : v;

/**
 * Walks the command words in argv (`stats merge ...`): the innermost command, its name for
 * help text, and argv without the command words. citty would check the flags of every
 * level; only the innermost one's apply.
 */
async function resolve(
  argv: string[],
): Promise<{ cmd: Command; name: string; rest: string[]; unknown?: string }> {
  let cmd: Command = main;
  let name = 'pss';
  let rest = argv;
  for (;;) {
    const subs = (await resolveValue(cmd.subCommands)) ?? {};
    // pss's own command comes first (`pss --model x` names none); a subcommand may follow flags.
    const i = cmd === main ? (rest[0]?.startsWith('-') ? -1 : 0) : rest.findIndex((a) => !a.startsWith('-'));
    if (i < 0 || !Object.keys(subs).length) break;
    const word = rest[i];
    if (!Object.hasOwn(subs, word)) {
      if (cmd === main) return { cmd, name, rest, unknown: word };
      break;
    }
    cmd = (await resolveValue(subs[word])) as Command;
    name = `${name} ${word}`;
    rest = [...rest.slice(0, i), ...rest.slice(i + 1)];
  }
  return { cmd, name, rest };
}

export async function run(argv: string[]): Promise<number> {
  let name = 'pss';
  try {
    const resolved = await resolve(argv);
    name = resolved.name;
    if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
      console.log(await renderHelp(resolved.cmd, resolved.name, resolved.cmd.help ?? {}));
      return 0;
    }
    if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
      console.log(version);
      return 0;
    }
    if (resolved.cmd === main) {
      const commands = Object.keys((await resolveValue(main.subCommands)) ?? {});
      const guess = resolved.unknown && closest(resolved.unknown, commands);
      const what = resolved.unknown
        ? `unknown command "${resolved.unknown}"${guess ? ` (did you mean ${guess}?)` : ''}`
        : 'no command given';
      console.error(`pss: ${what}; commands: ${commands.join(', ')}. See: pss --help`);
      return 1;
    }
    // The innermost command alone parses the remaining flags, after a strict check of them.
    const args = ((await resolveValue(resolved.cmd.args)) ?? {}) as ArgsDef;
    checkArgv(resolved.rest, args, resolved.name, resolved.cmd.help?.operands !== undefined);
    if (!resolved.cmd.ownSignals)
      exitOnSignals('resume' in args ? 'rerun the same command with --resume to continue' : undefined);
    await runCommand({ ...resolved.cmd, subCommands: undefined }, { rawArgs: resolved.rest });
    return 0;
  } catch (e) {
    if (e instanceof PssError) {
      console.error(`pss: ${e.message}`);
      return 1;
    }
    if (e instanceof Error && e.name === 'CLIError') {
      const plain = stripAnsi(e.message).replace(/\.$/, '');
      console.error(`pss: ${plain}; see ${name} --help`);
      return 1;
    }
    console.error(e);
    return 70;
  }
}

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const stripAnsi = (s: string) => s.replace(ANSI, '');
