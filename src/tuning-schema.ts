/**
 * The declared schema of the router tunables: each key's default, bounds and the text a user
 * reads in the README (`npm run docs:config` writes the tunables table from here). tuning.ts
 * resolves a destination's values from it; tuning-env.ts checks the variables with the same
 * convict format the process settings use.
 */
import type { TuningDefaults } from './manager/contract.ts';

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

/** One tunable: its framework default and what it means to a user. Every tunable is a whole number ≥ 1. */
export interface TuningSpec {
  readonly default: number;
  readonly doc: string;
}

/** The smallest value of every tunable: 0 would mean "never" or "nothing" where the router needs progress. */
export const TUNING_MIN = 1;

const MIB = 1024 * 1024;
const HOUR_MS = 60 * 60 * 1000;

export const TUNING_SCHEMA: Readonly<Record<TuningKey, TuningSpec>> = Object.freeze({
  maxEventsPerUpload: { default: 10_000, doc: 'Most jobs in one upload, capped by the manager\'s limit. Lower it when a vendor '
    + 'times out on big files; raise it for fewer, larger imports' },
  maxBytesPerUpload: { default: 50 * MIB, doc: 'Bytes: most staged row bytes in one upload, capped by the manager\'s limit' },
  uploadIntervalMs: { default: 1000, doc: 'Milliseconds: a partial batch is flushed once its oldest ready job has waited this '
    + 'long. Raise it to trade latency for fuller uploads' },
  uploadConcurrency: { default: 2, doc: 'Uploads of one destination in flight at once, across all processes; capped by the '
    + 'manager\'s concurrent-import limit' },
  uploadTimeoutMs: { default: 300_000, doc: 'Milliseconds one upload call may take before it is aborted and its jobs retried' },
  pollIntervalMs: { default: 10_000, doc: 'Milliseconds between polls of an open vendor import. Raise it if the vendor rate-limits status calls' },
  maxImportDurationMs: { default: 6 * HOUR_MS, doc: 'Milliseconds an import may stay open before it is cancelled and its jobs retried' },
  maxAttempts: { default: 20, doc: 'Attempts a job may use; it is aborted only when this **and** the retry window are both spent' },
  retryWindowMs: { default: 3 * HOUR_MS, doc: 'Milliseconds after a job\'s first failure during which it is still retried' },
  minBackoffMs: { default: 1000, doc: 'Milliseconds of the first retry delay; doubles per attempt, with jitter' },
  maxBackoffMs: { default: 300_000, doc: 'Milliseconds of the longest retry delay; at least minBackoffMs' },
});

export const TUNING_KEYS = Object.keys(TUNING_SCHEMA) as TuningKey[];

export const TUNING_DEFAULTS: Readonly<Tuning> = Object.freeze(
  Object.fromEntries(TUNING_KEYS.map((key) => [key, TUNING_SCHEMA[key].default])) as unknown as Tuning,
);

export const TUNING_DOCS: Readonly<Record<TuningKey, string>> = Object.freeze(
  Object.fromEntries(TUNING_KEYS.map((key) => [key, TUNING_SCHEMA[key].doc])) as Record<TuningKey, string>,
);

/** `maxEventsPerUpload` → `MAX_EVENTS_PER_UPLOAD`. */
export function envSuffix(key: TuningKey): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** `BATCH_ROUTER_<KEY>`, or `BATCH_ROUTER_<MANAGER>_<KEY>` with dashes of the name as underscores. */
export function envVarFor(managerName: string | undefined, key: TuningKey): string {
  const scope = managerName ? `${managerName.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_` : '';
  return `BATCH_ROUTER_${scope}${envSuffix(key)}`;
}
