/**
 * The convict formats of our settings, and the one place that turns convict's validation error
 * into our one-line problems. Each format coerces the text of an environment variable into its
 * typed value (leaving text it cannot read as is, so `validate` reports it instead of a guess) and
 * its `validate` throws a sentence saying what a good value looks like. convict itself maps the
 * variables to keys, applies defaults, coerces and runs the checks (`validate({allowed: 'strict'})`);
 * {@link validateSettings} adds the variable's name, its value (hidden for secrets) and the fix.
 *
 * The router tunables are checked with the same formats (see tuning-env.ts), so a bad number reads
 * the same whichever variable holds it.
 */
import convict from 'convict';
import { maskConnectionUrl } from './util/connection-url.ts';
import { decodeWebhookSecret, parseAllowList, parseDurationList, parseWholeNumber, wholeNumberProblem } from './config-formats.ts';

/** A convict schema entry plus the bounds our formats read (`min`/`max`, `values`). */
export interface SettingSpec {
  /** What the setting does, its unit and when to change it: shown in the README reference. */
  readonly doc: string;
  readonly env: string;
  readonly default: string | number | boolean;
  readonly format: FormatName;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
  /** Never echo the value in errors (it may hold a password or a signing key). */
  readonly sensitive?: boolean;
}

interface FormatDef {
  /** Text of an environment variable → typed value; unreadable text is returned unchanged. */
  coerce?: (text: string) => unknown;
  /** Throws a sentence (no variable name, never the value) when `value` is not acceptable. */
  validate: (value: unknown, spec: SettingSpec) => void;
  /** The type column of the README reference. */
  describe: (spec: SettingSpec) => string;
}

/** Strict: convict's own `boolean` reads "no" as true and its `int` reads "12abc" as 12, hiding typos. */
const BOOLS: Record<string, boolean> = { true: true, '1': true, yes: true, on: true, false: false, '0': false, no: false, off: false };
const fail = (problem: string | undefined): void => {
  if (problem) throw new Error(problem);
};
const asList = <T>(parse: (text: string) => { value?: T[] }) => (text: string) => parse(text).value ?? text;
const checkList = (parse: (text: string) => { problem?: string }) => (value: unknown) =>
  fail(Array.isArray(value) ? undefined : parse(String(value)).problem ?? 'must be a comma-separated list');

const FORMATS = {
  'whole-number': {
    coerce: (text) => parseWholeNumber(text, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER) ?? text,
    validate: (value, spec) => fail(wholeNumberProblem(value, spec.min ?? 0, spec.max)),
    describe: (spec) => (spec.max === undefined ? `whole number ≥ ${spec.min ?? 0}` : `whole number ${spec.min ?? 0}–${spec.max}`),
  },
  'true-false': {
    coerce: (text) => BOOLS[text.trim().toLowerCase()] ?? text,
    validate: (value) => fail(typeof value === 'boolean' ? undefined : 'must be true or false (1/0, yes/no and on/off also work)'),
    describe: () => '`true` / `false`',
  },
  'one-of': {
    validate: (value, spec) => fail(spec.values!.includes(value as string) ? undefined : `must be one of ${spec.values!.join(', ')}`),
    describe: (spec) => `one of ${spec.values!.map((v) => `\`${v}\``).join(', ')}`,
  },
  text: {
    validate: (value) => fail(typeof value === 'string' && !value.includes('\0') ? undefined : 'must be text without NUL characters'),
    describe: () => 'text',
  },
  path: {
    validate: (value) => fail(typeof value === 'string' && !value.includes('\0') ? undefined : 'must be a file system path without NUL characters'),
    describe: () => 'path (relative to the working directory)',
  },
  'postgres-url': {
    validate: (value) => fail(value === '' || isPostgresUrl(String(value)) ? undefined
      : 'must be a connection string such as postgres://user:password@host:5432/database, or empty for the embedded database'),
    describe: () => '`postgres://` URL or empty; secret',
  },
  'webhook-secret': {
    validate: (value) => fail(value === '' ? undefined : decodeWebhookSecret(String(value)).problem),
    describe: () => '`whsec_` + base64, or empty; secret',
  },
  'duration-list': {
    coerce: asList(parseDurationList),
    validate: checkList(parseDurationList),
    describe: () => 'comma-separated durations (`ms` `s` `m` `h` `d`; bare number = seconds)',
  },
  'allow-list': {
    coerce: asList(parseAllowList),
    validate: checkList(parseAllowList),
    describe: () => 'comma-separated host names, `*.domain`, IPs, CIDRs',
  },
} satisfies Record<string, FormatDef>;

export type FormatName = keyof typeof FORMATS;

function isPostgresUrl(text: string): boolean {
  if (!/^postgres(ql)?:\/\/\S+$/.test(text)) return false;
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}

// Registered once per process; convict keeps formats in a global table.
for (const [name, def] of Object.entries(FORMATS) as [FormatName, FormatDef][]) {
  convict.addFormat({ name, coerce: def.coerce, validate: (value: unknown, spec: unknown) => def.validate(value, spec as SettingSpec) });
}

/** The type column of the README reference for one setting. */
export function describeFormat(spec: SettingSpec): string {
  return (FORMATS[spec.format] as FormatDef).describe(spec);
}

/**
 * How a value appears in an error: quoted, or for a secret hidden. A connection string keeps its
 * shape (where the typo usually is) with the password masked, unless it is shaped oddly enough
 * that the password could be missed (see util/connection-url.ts); then nothing shows.
 */
export function shownValue(spec: Pick<SettingSpec, 'sensitive' | 'format'>, raw: string): string {
  if (!spec.sensitive) return JSON.stringify(raw);
  const masked = spec.format === 'postgres-url' ? maskConnectionUrl(raw, '***') : undefined;
  return masked === undefined ? '(value hidden)' : JSON.stringify(masked);
}

/** The one shape of a bad-setting problem: the variable, its value, what is wrong and the fix. */
export function settingProblem(env: string, shown: string, problem: string, fix: string): string {
  return `${env}=${shown} ${problem}: ${fix}`;
}

/**
 * Builds a convict config over `env`, runs convict's strict validation and returns the typed
 * values, or the problems, each naming the variable, the value as shown by {@link shownValue} and
 * the fix `fixFor` gives.
 */
export function validateSettings<K extends string>(
  schema: Readonly<Record<K, SettingSpec>>,
  env: NodeJS.ProcessEnv,
  fixFor: (spec: SettingSpec) => string,
): { values: Record<K, unknown>; problems: string[] } {
  // args: [] so a CLI flag never leaks into configuration by accident.
  const conf = convict<Record<K, unknown>>(schema as unknown as convict.Schema<Record<K, unknown>>, { env, args: [] });
  try {
    conf.validate({ allowed: 'strict' });
    return { values: conf.getProperties(), problems: [] };
  } catch (error) {
    return { values: conf.getProperties(), problems: String((error as Error).message).split('\n').map((line) => explain(line)) };
  }

  /**
   * convict reports `<key>: <our sentence>` and, for values it does not consider sensitive,
   * `: value was <JSON>`; the key leads us back to the variable, and the raw text of the variable
   * is shown instead of the coerced value.
   */
  function explain(line: string): string {
    const key = /^([A-Za-z0-9_]+): /.exec(line)?.[1] as K | undefined;
    const spec = key !== undefined && Object.hasOwn(schema, key) ? schema[key] : undefined;
    if (key === undefined || spec === undefined) return line;
    const suffix = `: value was ${JSON.stringify(conf.get(key))}`;
    let problem = line.slice(key.length + 2);
    if (problem.endsWith(suffix)) problem = problem.slice(0, -suffix.length);
    const raw = env[spec.env];
    return settingProblem(spec.env, raw === undefined ? '(unset)' : shownValue(spec, raw), problem, fixFor(spec));
  }
}
