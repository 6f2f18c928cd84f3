/**
 * A small typed schema kit for destination configs. Each field knows its type, default, whether it
 * is a secret, and a doc line; `parse` returns the typed config or throws a `ConfigError` that names
 * the field and says how to fix it. Secrets are marked so listings and errors never print them.
 */
import { ConfigError } from './errors.ts';

export interface Field<T> {
  readonly kind: string;
  readonly doc: string;
  readonly secret: boolean;
  readonly required: boolean;
  readonly defaultValue: T | undefined;
  /** Returns the parsed value or a sentence saying what is wrong and what to write instead. */
  parse(value: unknown): { ok: true; value: T } | { ok: false; problem: string };
}

type FieldOptions<T> = { doc: string; default?: T; secret?: boolean; optional?: boolean };

function field<T>(kind: string, options: FieldOptions<T>, parse: Field<T>['parse']): Field<T> {
  return {
    kind,
    doc: options.doc,
    secret: options.secret ?? false,
    required: options.default === undefined && !options.optional,
    defaultValue: options.default,
    parse,
  };
}

const ok = <T>(value: T) => ({ ok: true as const, value });
const bad = (problem: string) => ({ ok: false as const, problem });

export const f = {
  string: (o: FieldOptions<string> & { minLength?: number }) =>
    field<string>('string', o, (v) =>
      typeof v === 'string' && v.length >= (o.minLength ?? 1) ? ok(v) : bad('must be a non-empty string'),
    ),
  url: (o: FieldOptions<string>) =>
    field<string>('url', o, (v) => {
      if (typeof v !== 'string') return bad('must be a URL string such as "https://example.com/path"');
      try {
        const url = new URL(v);
        if (url.protocol !== 'http:' && url.protocol !== 'https:') return bad('must use http: or https:');
        return ok(v.replace(/\/+$/, ''));
      } catch {
        return bad('is not a valid URL; write it in full, such as "https://example.com/path"');
      }
    }),
  int: (o: FieldOptions<number> & { min?: number; max?: number }) =>
    field<number>('integer', o, (v) => {
      const min = o.min ?? Number.MIN_SAFE_INTEGER;
      const max = o.max ?? Number.MAX_SAFE_INTEGER;
      return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max
        ? ok(v)
        : bad(`must be a whole number between ${min} and ${max}`);
    }),
  bool: (o: FieldOptions<boolean>) =>
    field<boolean>('boolean', o, (v) => (typeof v === 'boolean' ? ok(v) : bad('must be true or false'))),
  oneOf: <const V extends string>(values: readonly V[], o: FieldOptions<V>) =>
    field<V>(values.map((x) => `"${x}"`).join('|'), o, (v) =>
      (values as readonly unknown[]).includes(v) ? ok(v as V) : bad(`must be one of ${values.map((x) => `"${x}"`).join(', ')}`),
    ),
  stringMap: (o: FieldOptions<Record<string, string>>) =>
    field<Record<string, string>>('object of strings', o, (v) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('must be an object of string values');
      for (const [key, inner] of Object.entries(v)) {
        if (typeof inner !== 'string') return bad(`key "${key}" must be a string`);
      }
      return ok({ ...(v as Record<string, string>) });
    }),
  stringList: (o: FieldOptions<string[]>) =>
    field<string[]>('array of strings', o, (v) =>
      Array.isArray(v) && v.every((x) => typeof x === 'string') ? ok([...v]) : bad('must be an array of strings'),
    ),
  /** Escape hatch for structured values: `check` returns the problem or undefined. */
  custom: <T>(kind: string, o: FieldOptions<T>, check: (v: unknown) => string | undefined) =>
    field<T>(kind, o, (v) => {
      const problem = check(v);
      return problem === undefined ? ok(v as T) : bad(problem);
    }),
};

type Fields = Record<string, Field<unknown>>;
type Parsed<F extends Fields> = { [K in keyof F]: F[K] extends Field<infer T> ? T : never };

export interface ConfigSchema<Config> {
  readonly fields: Fields;
  /** Validates a raw config; `check` runs cross-field rules after every field parsed. */
  parse(raw: unknown): Config;
  /** Names of secret fields, for redaction. */
  readonly secretFields: readonly string[];
}

/**
 * Builds a schema. `check` may return a `{ field, problem }` for rules spanning fields
 * (e.g. "password or privateKey is required").
 */
export function configSchema<F extends Fields, Config = Parsed<F>>(
  fields: F,
  check?: (config: Config) => { field: string; problem: string } | undefined,
): ConfigSchema<Config> {
  return {
    fields,
    secretFields: Object.entries(fields)
      .filter(([, def]) => def.secret)
      .map(([name]) => name),
    parse(raw: unknown): Config {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        throw new ConfigError('"config" must be an object with the manager\'s fields', { field: 'config' });
      }
      const input = raw as Record<string, unknown>;
      const unknownKeys = Object.keys(input).filter((key) => !(key in fields));
      if (unknownKeys.length > 0) {
        throw new ConfigError(
          `unknown field "${unknownKeys[0]}"; known fields are ${Object.keys(fields).join(', ')}`,
          { field: unknownKeys[0] },
        );
      }
      const out: Record<string, unknown> = {};
      for (const [name, def] of Object.entries(fields)) {
        const value = input[name];
        if (value === undefined || value === null) {
          if (def.required) throw new ConfigError(`field "${name}" is required: ${def.doc}`, { field: name });
          if (def.defaultValue !== undefined) out[name] = def.defaultValue;
          continue;
        }
        const result = def.parse(value);
        if (!result.ok) throw new ConfigError(`field "${name}" ${result.problem}`, { field: name });
        out[name] = result.value;
      }
      const config = out as Config;
      const problem = check?.(config);
      if (problem) throw new ConfigError(`field "${problem.field}" ${problem.problem}`, { field: problem.field });
      return config;
    },
  };
}

/** A copy of a config with secret fields replaced, for display. */
export function redactConfig(schema: ConfigSchema<unknown>, config: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...config };
  for (const name of schema.secretFields) if (copy[name] !== undefined) copy[name] = '[redacted]';
  return copy;
}
