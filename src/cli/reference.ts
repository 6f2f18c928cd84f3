/**
 * Text made from the command catalog: `--help` of one command, the command list, and the README's
 * CLI table. Kept apart from catalog.ts so the catalog stays pure data.
 */
import { cell, prose, replaceBetween } from '../util/markdown.ts';
import { COMMANDS, flagLabel, synopsis, type CommandSpec } from './catalog.ts';

export const README_START = '<!-- cli-reference:start -->';
export const README_END = '<!-- cli-reference:end -->';

/** What `batch-router <command> --help` prints. */
export function commandHelp(spec: CommandSpec): string {
  const flags = Object.entries(spec.flags).map(([name, flag]) => [flagLabel(name, flag), flag.description] as const);
  const width = Math.max(0, ...flags.map(([label]) => label.length));
  const lines = [...synopsis(spec).map((line, i) => (i === 0 ? line : `       ${line}`)), '', spec.description];
  if (flags.length > 0) lines.push('', 'options:', ...flags.map(([label, text]) => `  ${label.padEnd(width)}  ${text}`));
  return lines.join('\n');
}

/** The command list of `batch-router --help`. */
export function commandList(): string[] {
  const width = Math.max(...COMMANDS.map((spec) => spec.name.length), 'help'.length);
  return [...COMMANDS.map((spec) => `  ${spec.name.padEnd(width)}  ${spec.summary}`), `  ${'help'.padEnd(width)}  show help for a command`];
}

/** The README's CLI table: one row per command form, its summary, and every flag with what it does. */
export function readmeTable(): string {
  const rows = COMMANDS.map((spec) => {
    const forms = spec.usage.map((args) => `\`${cell(`${spec.name}${args ? ` ${args}` : ''}`)}\``).join('<br>');
    const flags = Object.entries(spec.flags).map(([name, flag]) => `\`${cell(flagLabel(name, flag))}\` ${prose(flag.description)}`);
    return `| ${forms} | ${prose(spec.summary)} | ${flags.join('<br>') || '–'} |`;
  });
  return ['| command | what it does | options |', '|---|---|---|', ...rows].join('\n');
}

/** `readme` with the text between the markers replaced by the current table; throws without markers. */
export function withReadmeTable(readme: string): string {
  return replaceBetween(readme, README_START, README_END, readmeTable(), 'CLI table');
}
