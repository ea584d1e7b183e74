/** `--help` text: usage, what the command does, every flag with its default, and examples. */
import type { ArgsDef, CommandDef } from 'citty';

export interface HelpExtras {
  /** Words the command takes after its flags, for the usage line ("<files...>"); none when absent. */
  operands?: string;
  /** Runnable examples, each with a one-line explanation. */
  examples?: readonly [string, string][];
  /** Extra paragraphs after the flags (how to read the output, where files go). */
  notes?: readonly string[];
}

const WIDTH = Math.min(process.stdout.columns || 100, 100);

function wrap(text: string, indent: number): string {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && indent + line.length + 1 + w.length > WIDTH) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.map((l, i) => (i ? ' '.repeat(indent) : '') + l).join('\n');
}

export async function renderHelp(cmd: CommandDef, name: string, extras: HelpExtras = {}): Promise<string> {
  const meta = await (typeof cmd.meta === 'function' ? cmd.meta() : cmd.meta);
  const args = ((await (typeof cmd.args === 'function' ? cmd.args() : cmd.args)) ?? {}) as ArgsDef;
  const subs = await (typeof cmd.subCommands === 'function' ? cmd.subCommands() : cmd.subCommands);
  const out: string[] = [];
  const required = Object.entries(args).filter(([, a]) => (a as { required?: boolean }).required);
  const usage = [name, ...(subs ? ['<command>'] : []), ...required.map(([k, a]) => `--${k} <${hint(a)}>`)];
  if (Object.keys(args).length > required.length) usage.push('[options]');
  if (extras.operands) usage.push(extras.operands);
  out.push(`Usage: ${usage.join(' ')}`, '', wrap(meta?.description ?? '', 0));
  if (subs) {
    out.push('', 'Commands:');
    for (const [sub, def] of Object.entries(subs)) {
      const d = await (typeof def === 'function' ? def() : def);
      const m = await (typeof d.meta === 'function' ? d.meta() : d.meta);
      out.push(`  ${sub.padEnd(12)}${wrap(m?.description ?? '', 14)}`);
    }
    out.push('', `Run '${name} <command> --help' for a command's flags and examples.`);
  }
  if (Object.keys(args).length) {
    out.push('', 'Options:');
    for (const [k, a] of Object.entries(args)) {
      const def = a as { description?: string; default?: unknown; required?: boolean; options?: string[] };
      const flag = `  --${k}${def.options ? ` <${def.options.join('|')}>` : a.type === 'boolean' ? '' : ` <${hint(a)}>`}`;
      const note = def.required
        ? ' (required)'
        : def.default !== undefined
          ? ` (default: ${def.default})`
          : '';
      out.push(flag, `      ${wrap(`${def.description ?? ''}${note}`, 6)}`);
    }
  }
  if (extras.notes?.length) out.push('', ...extras.notes.map((n) => wrap(n, 0)));
  if (extras.examples?.length) {
    out.push('', 'Examples:');
    for (const [cmdline, what] of extras.examples) out.push(`  # ${what}`, `  ${cmdline}`);
  }
  return out.join('\n');
}

function hint(a: unknown): string {
  const d = a as { valueHint?: string; options?: string[] };
  return d.options ? d.options.join('|') : (d.valueHint ?? 'value');
}
