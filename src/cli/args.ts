/**
 * Command-line parsing on top of node:util parseArgs, plus the value checks every command needs
 * (ids, states, numbers, dates). Every check throws {@link UsageError} with the flag name and an
 * example of a good value, so the operator can fix the command without reading the docs.
 */
import { parseArgs } from 'node:util';
import { parseOptions, type CommandSpec } from './catalog.ts';
import { UsageError, type ParsedInput } from './command.ts';

/** Parses `argv` for `command`; `help` is true when `--help`/`-h` was given. */
export function parseCommandLine(command: CommandSpec, argv: readonly string[]): ParsedInput & { help: boolean } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...parseOptions(command), help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    // parseArgs messages are good ("Unknown option '--x'"); drop its advice about '--' which
    // rarely applies here.
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const values = parsed.values as ParsedInput['values'];
  if (values.help === true) return { values, positionals: parsed.positionals, help: true };
  const [min, max] = command.positionals;
  const count = parsed.positionals.length;
  if (count < min) throw new UsageError(`${command.name}: missing argument`);
  if (count > max) {
    throw new UsageError(`${command.name}: unexpected argument "${parsed.positionals[max]}"`);
  }
  return { values, positionals: parsed.positionals, help: false };
}

export function optString(input: ParsedInput, name: string): string | undefined {
  const value = input.values[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} needs a value`);
  return value;
}

export function optFlag(input: ParsedInput, name: string): boolean {
  return input.values[name] === true;
}

/** A repeatable option whose values may also be comma-separated: `--id 1 --id 2,3`. */
export function optList(input: ParsedInput, name: string): string[] {
  const value = input.values[name];
  const raw = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return raw
    .flatMap((item) => String(item).split(','))
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

export function optInt(input: ParsedInput, name: string, bounds: { min: number; max: number; fallback: number }): number {
  const text = optString(input, name);
  if (text === undefined) return bounds.fallback;
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < bounds.min || value > bounds.max) {
    throw new UsageError(`--${name} must be a whole number from ${bounds.min} to ${bounds.max}, got "${text}"`);
  }
  return value;
}

/** Positive number of seconds (fractions allowed), as milliseconds. */
export function optSeconds(input: ParsedInput, name: string): number | undefined {
  const text = optString(input, name);
  if (text === undefined) return undefined;
  const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(value > 0)) throw new UsageError(`--${name} must be a number of seconds above 0, such as 300, got "${text}"`);
  return Math.round(value * 1000);
}

/** An ISO 8601 date or date-time; a bare date means midnight UTC. */
export function optDate(input: ParsedInput, name: string): Date | undefined {
  const text = optString(input, name);
  if (text === undefined) return undefined;
  const date = /^\d{4}-\d{2}-\d{2}/.test(text) ? new Date(text) : new Date(NaN);
  if (Number.isNaN(date.getTime())) {
    throw new UsageError(`--${name} must be an ISO date or date-time such as 2026-11-22 or 2026-11-22T08:00:00Z, got "${text}"`);
  }
  return date;
}

/** Job, upload and import ids are positive bigints; checking here keeps a typo out of SQL. */
export function parseId(text: string, what: string): string {
  if (!/^[1-9]\d{0,18}$/.test(text) || BigInt(text) > 9223372036854775807n) {
    throw new UsageError(`${what} must be a numeric id such as 42, got "${text}"`);
  }
  return text;
}

/** Checks each name against the allowed states; `what` names the flag in the message. */
export function parseStates<S extends string>(names: readonly string[], allowed: readonly S[], what: string): S[] {
  for (const name of names) {
    if (!(allowed as readonly string[]).includes(name)) {
      throw new UsageError(`${what}: unknown state "${name}"; use one or more of ${allowed.join(', ')} (comma-separated)`);
    }
  }
  return [...new Set(names)] as S[];
}
