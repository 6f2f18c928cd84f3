/**
 * Output helpers: aligned tables for people, JSON for scripts, and the small formatting rules
 * (one-line truncation, times with "in 5m" hints) that keep every command's output consistent.
 * Tables go to stdout and notes to stderr, so `batch-router jobs | grep` sees rows only.
 */
import type { CliContext } from './command.ts';

/** Columns padded to their widest cell; the last column is left unpadded so lines do not trail. */
export function renderTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** Label/value pairs, labels aligned; `undefined` values are skipped so callers can inline conditions. */
export function renderFields(fields: ReadonlyArray<readonly [string, string | undefined]>, indent = '  '): string {
  const shown = fields.filter((pair): pair is readonly [string, string] => pair[1] !== undefined);
  const width = Math.max(0, ...shown.map(([label]) => label.length));
  return shown.map(([label, value]) => `${indent}${label.padEnd(width)}  ${value}`).join('\n');
}

export function printTable(ctx: CliContext, headers: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  ctx.print(renderTable(headers, rows));
}

/** Pretty JSON on stdout. Dates serialise as ISO strings through their toJSON. */
export function printJson(ctx: CliContext, value: unknown): void {
  ctx.print(JSON.stringify(value, null, 2));
}

/** Collapses whitespace (vendor errors are often multi-line) and cuts to `max` characters. */
export function truncate(text: string | null | undefined, max: number): string {
  if (text === null || text === undefined || text === '') return '';
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, Math.max(0, max - 1))}…`;
}

export function isoOrNull(date: Date | null | undefined): string | null {
  return date ? date.toISOString() : null;
}

/** "3s", "4m 10s", "2h 5m", "3d 4h": two units at most, which is all a person reads. */
export function formatDuration(ms: number): string {
  const seconds = Math.round(Math.abs(ms) / 1000);
  if (seconds < 60) return `${seconds}s`;
  const units: Array<[string, number]> = [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]];
  const parts: string[] = [];
  let rest = seconds;
  for (const [unit, size] of units) {
    if (rest >= size || parts.length > 0) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.filter((part) => !/^0[a-z]$/.test(part)).join(' ');
}

/** How far `date` is from now, as a person says it: "in 5m", "12s ago", "now". */
export function relative(date: Date, now = Date.now()): string {
  const delta = date.getTime() - now;
  if (Math.abs(delta) < 1000) return 'now';
  return delta > 0 ? `in ${formatDuration(delta)}` : `${formatDuration(delta)} ago`;
}

/** Local-time stamp with a relative hint, or "-" for no date. */
export function formatWhen(date: Date | null | undefined, now = Date.now()): string {
  if (!date) return '-';
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp =
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  return `${stamp} (${relative(date, now)})`;
}

/** "1 job" / "3 jobs": counts appear in most messages. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** "message [code, vendor X]": a stored error with the codes it was recorded with. */
export function withCode(message: string, code: string | null, vendorCode?: string | null): string {
  if (!code) return message;
  return `${message} [${code}${vendorCode ? `, vendor ${vendorCode}` : ''}]`;
}
