/**
 * Router tunables: batch sizes, cadences, retry budget. Each destination gets its own resolved
 * {@link Tuning}, because vendors differ (a bulk-import API wants big, rare uploads; a webhook
 * small, frequent ones) and an operator may need to slow one destination without touching others.
 *
 * Precedence, highest first: the destination's `tuning` entry, `BATCH_ROUTER_<MANAGER>_<KEY>`,
 * `BATCH_ROUTER_<KEY>`, the manager's `tuningDefaults`, {@link TUNING_DEFAULTS}. The manager's
 * hard limits then cap the result, because a vendor rejects anything above them anyway.
 */
import { settingProblem } from './config-convict.ts';
import { parseWholeNumber, wholeNumberProblem } from './config-formats.ts';
import type { ManagerLimits, TuningDefaults } from './manager/contract.ts';
import { envVarFor, TUNING_DEFAULTS, TUNING_KEYS, TUNING_MIN, type Tuning, type TuningKey } from './tuning-schema.ts';

export { envVarFor, TUNING_DEFAULTS, TUNING_DOCS, TUNING_KEYS, type Tuning, type TuningKey } from './tuning-schema.ts';

/** Positive safe integer from a number or an all-digits string (what `${ENV}` substitution yields). */
export function positiveInt(value: unknown): number | undefined {
  return parseWholeNumber(value, TUNING_MIN);
}

/** The fix offered for a bad tunable variable. */
export function tuningFix(key: TuningKey): string {
  return `fix: set it to a number such as ${TUNING_DEFAULTS[key]}, or unset it to use the default`;
}

/** The problem of a tunable variable whose value is not a positive whole number. */
export function badTuningEnvValue(name: string, value: string, key: TuningKey): string {
  return settingProblem(name, JSON.stringify(value), wholeNumberProblem(value, TUNING_MIN)!, tuningFix(key));
}

export interface ResolvedTuning {
  readonly tuning: Tuning;
  /** Wrong values; each names the env var or `tuning.<key>` and the fix. Fallback values are used. */
  readonly problems: string[];
  /** Values lowered to a manager's hard limit; worth a warning, not an error. */
  readonly notes: string[];
}

/** Resolves one destination's tunables; see the module comment for precedence. */
export function resolveTuning(
  managerName: string,
  managerDefaults: TuningDefaults,
  destinationTuning: unknown,
  env: Readonly<Record<string, string>>,
  limits: ManagerLimits,
): ResolvedTuning {
  const problems: string[] = [];
  const notes: string[] = [];
  let fromFile: Record<string, unknown> = {};
  if (destinationTuning !== undefined && destinationTuning !== null) {
    if (typeof destinationTuning === 'object' && !Array.isArray(destinationTuning)) {
      fromFile = destinationTuning as Record<string, unknown>;
      for (const key of Object.keys(fromFile).filter((k) => !(k in TUNING_DEFAULTS))) {
        problems.push(`field "tuning.${key}" is not a tunable: fix the name or remove it; known tunables are ${TUNING_KEYS.join(', ')}`);
      }
    } else {
      problems.push('field "tuning" must be an object such as {"maxAttempts": 10}: fix it or remove it');
    }
  }

  const tuning = {} as Record<TuningKey, number>;
  for (const key of TUNING_KEYS) {
    // The first source that holds a usable value wins; a bad value is reported and skipped.
    let value: number | undefined;
    let source = 'framework default';
    if (fromFile[key] !== undefined) {
      value = positiveInt(fromFile[key]);
      source = `tuning.${key}`;
      if (value === undefined) {
        problems.push(
          `field "tuning.${key}" ${wholeNumberProblem(fromFile[key], TUNING_MIN)}, got ${JSON.stringify(fromFile[key])}: ` +
            `fix: write a number such as ${TUNING_DEFAULTS[key]}, or remove it to use the default`,
        );
      }
    }
    for (const name of [envVarFor(managerName, key), envVarFor(undefined, key)]) {
      // An empty variable counts as unset, as `FOO=` in a compose file usually means "no override".
      if (value !== undefined || env[name] === undefined || env[name] === '') continue;
      value = positiveInt(env[name]);
      source = name;
      if (value === undefined) problems.push(badTuningEnvValue(name, env[name], key));
    }
    if (value === undefined && managerDefaults[key] !== undefined) {
      value = positiveInt(managerDefaults[key]);
      source = `manager "${managerName}" default`;
    }
    tuning[key] = value ?? TUNING_DEFAULTS[key];
    if (value === undefined) source = 'framework default';

    const limit = limitFor(key, limits);
    if (limit !== undefined && tuning[key] > limit) {
      // Lowering the framework's generic default to a vendor limit is expected; anything set on
      // purpose above the limit is worth telling the operator about.
      if (source !== 'framework default') {
        notes.push(`${source} = ${tuning[key]} is above the ${managerName} limit ${limit}; using ${limit}`);
      }
      tuning[key] = limit;
    }
  }
  if (tuning.minBackoffMs > tuning.maxBackoffMs) {
    problems.push(
      `minBackoffMs (${tuning.minBackoffMs}) is above maxBackoffMs (${tuning.maxBackoffMs}): fix: lower minBackoffMs or raise maxBackoffMs`,
    );
  }
  return { tuning: Object.freeze(tuning), problems, notes };
}

/**
 * The hard limit that caps a tunable. Uploads in flight count as open imports, so concurrency
 * above `maxConcurrentImports` would only be refused by the vendor.
 */
function limitFor(key: TuningKey, limits: ManagerLimits): number | undefined {
  if (key === 'maxEventsPerUpload') return limits.maxEventsPerUpload;
  if (key === 'maxBytesPerUpload') return limits.maxBytesPerUpload;
  if (key === 'uploadConcurrency') return limits.maxConcurrentImports;
  return undefined;
}
