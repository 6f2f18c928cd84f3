/**
 * `${ENV_NAME}` substitution inside the string values of a destination entry, so secrets live in
 * the environment (or a secret manager that fills it) and the destinations file can be committed.
 *
 * Only string values are touched, never keys, and a substituted value is never re-scanned, so an
 * environment value that itself contains `${...}` stays literal. `$${NAME}` writes a literal
 * `${NAME}` for the rare config value that needs one.
 */

/** A `${NAME}` whose variable is not set. */
export interface MissingVariable {
  /** Dotted location of the string in the substituted value, e.g. `config.headers.Authorization`. */
  readonly path: string;
  /** The environment variable name. */
  readonly name: string;
}

export interface SubstitutionResult<T> {
  /** A copy with every resolvable `${NAME}` replaced; unresolvable ones stay as written. */
  readonly value: T;
  /** Values taken from the environment, to be scrubbed from any error text later. */
  readonly usedValues: readonly string[];
  /** References to unset variables, one per occurrence. */
  readonly missing: readonly MissingVariable[];
}

const REFERENCE = /\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Substitutes `${NAME}` in every string of `value`; `path` prefixes the reported locations. */
export function substituteEnv<T>(value: T, env: Readonly<Record<string, string>>, path: string): SubstitutionResult<T> {
  const usedValues: string[] = [];
  const missing: MissingVariable[] = [];

  const visit = (node: unknown, at: string): unknown => {
    if (typeof node === 'string') {
      return node.replace(REFERENCE, (whole: string, escape: string, name: string) => {
        if (escape) return whole.slice(1);
        const found = Object.prototype.hasOwnProperty.call(env, name) ? env[name] : undefined;
        if (found === undefined) {
          missing.push({ path: at, name });
          return whole;
        }
        usedValues.push(found);
        return found;
      });
    }
    if (Array.isArray(node)) return node.map((item, index) => visit(item, `${at}[${index}]`));
    if (typeof node === 'object' && node !== null) {
      const copy: Record<string, unknown> = {};
      for (const [key, inner] of Object.entries(node)) copy[key] = visit(inner, at ? `${at}.${key}` : key);
      return copy;
    }
    return node;
  };

  return { value: visit(value, path) as T, usedValues, missing };
}

/**
 * The secret values of one destination, to scrub from any text about it: every value taken from
 * the environment, and every string under the config's secret fields (written in the file).
 *
 * @param config the substituted `config` entry
 * @param secretFields top-level config fields the manager's schema marks secret
 * @param others further substituted parts of the entry (its `tuning`), whose env values count too
 */
export function secretValues(
  config: SubstitutionResult<unknown>,
  secretFields: readonly string[],
  others: ReadonlyArray<SubstitutionResult<unknown>> = [],
): readonly string[] {
  const fields = typeof config.value === 'object' && config.value !== null ? (config.value as Record<string, unknown>) : {};
  // A secret field still holding an unresolved `${NAME}` is no secret yet, and scrubbing it would
  // hide the very variable name the operator has to set.
  const unresolved = config.missing.map(({ name }) => `\${${name}}`);
  const written = secretFields
    .flatMap((name) => stringLeaves(fields[name]))
    .filter((leaf) => !unresolved.some((reference) => leaf.includes(reference)));
  const all = [...config.usedValues, ...others.flatMap((other) => other.usedValues), ...written];
  return Object.freeze([...new Set(all.filter((value) => value.length > 0))]);
}

/** Every string inside a value (object values and array items, any depth). */
function stringLeaves(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringLeaves);
  if (typeof value === 'object' && value !== null) return Object.values(value).flatMap(stringLeaves);
  return [];
}
