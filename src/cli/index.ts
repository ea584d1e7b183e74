/**
 * The `pss` command line. Commands load lazily; user errors (PssError, bad flags) print one
 * line and exit 1, anything else is a bug and prints its stack.
 */

import { readFileSync } from 'node:fs';
import { type CommandDef, defineCommand, runCommand } from 'citty';
import { PssError } from '../errors.js';
import { type HelpExtras, renderHelp } from './help.js';

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
  },
});

/** The subcommand named in argv (if any), its help name and extras. */
async function resolve(argv: string[]): Promise<[CommandDef, string, HelpExtras]> {
  const subs = await (typeof main.subCommands === 'function' ? main.subCommands() : main.subCommands);
  const name = argv.find((a) => !a.startsWith('-'));
  const sub = name ? subs?.[name] : undefined;
  if (!sub) return [main, 'pss', {}];
  const resolved = (await (typeof sub === 'function' ? sub() : sub)) as CommandDef & { help?: HelpExtras };
  return [resolved, `pss ${name}`, resolved.help ?? {}];
}

export async function run(argv: string[]): Promise<number> {
  try {
    if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
      const [cmd, name, extras] = await resolve(argv);
      console.log(await renderHelp(cmd, name, extras));
      return 0;
    }
    if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
      console.log(version);
      return 0;
    }
    const subs =
      (await (typeof main.subCommands === 'function' ? main.subCommands() : main.subCommands)) ?? {};
    const name = argv.find((a) => !a.startsWith('-'));
    if (!name || !Object.hasOwn(subs, name)) {
      console.error(
        `pss: unknown command "${name ?? argv[0]}"; commands: ${Object.keys(subs).join(', ')}. See: pss --help`,
      );
      return 1;
    }
    await runCommand(main, { rawArgs: argv });
    return 0;
  } catch (e) {
    if (e instanceof PssError) {
      console.error(`pss: ${e.message}`);
      return 1;
    }
    if (e instanceof Error && e.name === 'CLIError') {
      const plain = stripAnsi(e.message).replace(/\.$/, '');
      console.error(`pss: ${plain}. See: pss ${argv.find((a) => !a.startsWith('-'))} --help`);
      return 1;
    }
    console.error(e);
    return 70;
  }
}

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const stripAnsi = (s: string) => s.replace(ANSI, '');
