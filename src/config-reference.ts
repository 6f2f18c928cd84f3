/**
 * The README's configuration reference, made from the schemas: the process settings
 * (config-schema.ts, through describeConfig) and the router tunables (tuning-schema.ts).
 * `npm run docs:config` writes it; test/config-reference.test.ts fails when the README differs.
 */
import { describeConfig } from './config.ts';
import { envSuffix, TUNING_KEYS, TUNING_MIN, TUNING_SCHEMA } from './tuning-schema.ts';
import { cell, prose, replaceBetween } from './util/markdown.ts';

export const CONFIG_START = '<!-- config-reference:start -->';
export const CONFIG_END = '<!-- config-reference:end -->';
export const TUNING_START = '<!-- tuning-reference:start -->';
export const TUNING_END = '<!-- tuning-reference:end -->';

const UNITS_MS: [number, string][] = [[86_400_000, 'd'], [3_600_000, 'h'], [60_000, 'min'], [1000, 's']];
const UNITS_BYTES: [number, string][] = [[1024 * 1024, 'MiB'], [1024, 'KiB']];

/** `30000` → "30 s" for a name ending in Ms, `8388608` → "8 MiB" for one holding Bytes; else undefined. */
function inWords(name: string, value: number): string | undefined {
  const units = /Ms$|_MS$/.test(name) ? UNITS_MS : /Bytes|_BYTES/.test(name) ? UNITS_BYTES : undefined;
  const unit = units?.find(([size]) => value >= size && value % size === 0);
  return unit ? `${value / unit[0]} ${unit[1]}` : undefined;
}

/** A default as the table shows it: code, with the size or duration in words where that helps. */
function shownDefault(name: string, value: string | number | boolean): string {
  if (value === '') return '(empty)';
  const words = typeof value === 'number' ? inWords(name, value) : undefined;
  return `\`${cell(String(value))}\`${words ? ` (${words})` : ''}`;
}

/** One row per process setting: variable, what values it takes, default, what it does. */
export function configTable(): string {
  const rows = describeConfig().map((row) =>
    `| \`${row.env}\` | ${prose(row.type)} | ${shownDefault(row.env, row.default)} | ${prose(row.doc)} |`);
  return ['| variable | type | default | description |', '|---|---|---|---|', ...rows].join('\n');
}

/** One row per tunable: its key in a destination's `tuning`, the variable suffix, default, meaning. */
export function tuningTable(): string {
  const rows = TUNING_KEYS.map((key) =>
    `| \`${key}\` | \`${envSuffix(key)}\` | whole number ≥ ${TUNING_MIN} | ${shownDefault(key, TUNING_SCHEMA[key].default)} | ${prose(TUNING_SCHEMA[key].doc)} |`);
  return ['| key (`tuning` entry) | env suffix | type | default | description |', '|---|---|---|---|---|', ...rows].join('\n');
}

/** `readme` with both reference tables rewritten from the schemas; throws when a marker is missing. */
export function withConfigReference(readme: string): string {
  const withConfig = replaceBetween(readme, CONFIG_START, CONFIG_END, configTable(), 'configuration table');
  return replaceBetween(withConfig, TUNING_START, TUNING_END, tuningTable(), 'tunables table');
}
