/**
 * Router tunables: batch sizes, cadences, retry budget. Each destination gets its own resolved
 * {@link Tuning}, because vendors differ (a bulk-import API wants big, rare uploads; a webhook
 * small, frequent ones) and an operator may need to slow one destination without touching others.
 *
 * Precedence, highest first: the destination's `tuning` entry, `BATCH_ROUTER_<MANAGER>_<KEY>`,
 * `BATCH_ROUTER_<KEY>`, the manager's `tuningDefaults`, {@link TUNING_DEFAULTS}. The manager's
 * hard limits then cap the result, because a vendor rejects anything above them anyway.
 */
import type { ManagerLimits, TuningDefaults } from './manager/contract.ts';

/** Resolved tunables of one destination. All positive integers. */
export interface Tuning {
  /** Most jobs in one upload. */
  readonly maxEventsPerUpload: number;
  /** Most staged row bytes in one upload. */
  readonly maxBytesPerUpload: number;
  /** A partial batch is flushed once its oldest ready job has waited this long (ms). */
  readonly uploadIntervalMs: number;
  /** Uploads of one destination in flight at once, across all processes. */
  readonly uploadConcurrency: number;
  /** Deadline of one `upload` call (ms). */
  readonly uploadTimeoutMs: number;
  /** Wait between polls of an open vendor import (ms). */
  readonly pollIntervalMs: number;
  /** An import still open after this long (ms) is cancelled and its jobs retried. */
  readonly maxImportDurationMs: number;
  /** Claims a job may use before it is aborted. */
  readonly maxAttempts: number;
  /** A job first tried longer ago than this (ms) is aborted instead of retried. */
  readonly retryWindowMs: number;
  /** First retry delay (ms); doubles per attempt. */
  readonly minBackoffMs: number;
  /** Ceiling of the retry delay (ms). */
  readonly maxBackoffMs: number;
}

export type TuningKey = keyof Tuning;

// Compile-time check that the manager contract and this module list the same keys.
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : never;
const keysMatch: SameKeys<Tuning, TuningDefaults> = true;
void keysMatch;

const MIB = 1024 * 1024;
const HOUR_MS = 60 * 60 * 1000;

export const TUNING_DEFAULTS: Readonly<Tuning> = Object.freeze({
  maxEventsPerUpload: 10_000,
  maxBytesPerUpload: 50 * MIB,
  uploadIntervalMs: 1000,
  uploadConcurrency: 2,
  uploadTimeoutMs: 300_000,
  pollIntervalMs: 10_000,
  maxImportDurationMs: 6 * HOUR_MS,
  maxAttempts: 20,
  retryWindowMs: 3 * HOUR_MS,
  minBackoffMs: 1000,
  maxBackoffMs: 300_000,
});

export const TUNING_DOCS: Readonly<Record<TuningKey, string>> = Object.freeze({
  maxEventsPerUpload: 'Most jobs in one upload (capped by the manager limit)',
  maxBytesPerUpload: 'Most staged row bytes in one upload (capped by the manager limit)',
  uploadIntervalMs: 'Flush a partial batch once its oldest ready job has waited this many milliseconds',
  uploadConcurrency: 'Uploads of one destination in flight at once, across all processes',
  uploadTimeoutMs: 'Milliseconds one upload call may take before it is aborted and retried',
  pollIntervalMs: 'Milliseconds between polls of an open vendor import',
  maxImportDurationMs: 'Milliseconds an import may stay open before it is cancelled and its jobs retried',
  maxAttempts: 'Attempts a job may use before it is aborted',
  retryWindowMs: 'Milliseconds after a job first failed during which it is still retried',
  minBackoffMs: 'First retry delay in milliseconds; doubles per attempt',
  maxBackoffMs: 'Longest retry delay in milliseconds',
});

export const TUNING_KEYS = Object.keys(TUNING_DEFAULTS) as TuningKey[];

/** `maxEventsPerUpload` → `MAX_EVENTS_PER_UPLOAD`. */
function screamingSnake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** `BATCH_ROUTER_<KEY>`, or `BATCH_ROUTER_<MANAGER>_<KEY>` with dashes of the name as underscores. */
export function envVarFor(managerName: string | undefined, key: TuningKey): string {
  const scope = managerName ? `${managerName.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_` : '';
  return `BATCH_ROUTER_${scope}${screamingSnake(key)}`;
}

/** Positive safe integer from a number or an all-digits string (what `${ENV}` substitution yields). */
export function positiveInt(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** The problem of a tunable variable whose value is not a positive whole number. */
export function badTuningEnvValue(name: string, value: string, key: TuningKey): string {
  return `${name}=${JSON.stringify(value)} must be a positive whole number: ` +
    `fix: set it to a number such as ${TUNING_DEFAULTS[key]}, or unset it to use the default`;
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
          `field "tuning.${key}" must be a positive whole number, got ${JSON.stringify(fromFile[key])}: ` +
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
