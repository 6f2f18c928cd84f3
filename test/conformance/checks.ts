/**
 * Assertions shared by the conformance suite, exported so manager tests can reuse them. Each one
 * reports everything wrong at once (a diff of three lists beats the first stray id).
 */
import { expect } from 'vitest';
import type { JobOutcome } from '../../src/manager/contract.ts';
import { ConfigError } from '../../src/manager/errors.ts';

const OUTCOME_KINDS = new Set(['succeeded', 'retry', 'snooze', 'aborted']);

/** No duplicates, no strangers, nobody missing; reported together so a failure shows all three. */
export function expectExactlyOnce(reported: readonly string[], expected: readonly string[]): void {
  const seen = new Set<string>();
  const duplicates = reported.filter((id) => (seen.has(id) ? true : (seen.add(id), false)));
  const wanted = new Set(expected);
  expect({
    duplicates,
    unknown: reported.filter((id) => !wanted.has(id)),
    missing: expected.filter((id) => !seen.has(id)),
  }).toEqual({ duplicates: [], unknown: [], missing: [] });
}

export function expectWellFormed(outcome: JobOutcome): void {
  expect(OUTCOME_KINDS.has(outcome.kind), `unknown outcome kind "${outcome.kind}"`).toBe(true);
  if (outcome.kind !== 'succeeded') expect(outcome.reason.trim(), `job ${outcome.jobId} has an empty reason`).not.toBe('');
  if ('retryAfterMs' in outcome && outcome.retryAfterMs !== undefined) expect(outcome.retryAfterMs).toBeGreaterThanOrEqual(0);
}

/** The strings inside secret fields (a header map holds several), long enough to search for. */
export function secretValues(values: readonly unknown[]): string[] {
  return values
    .flatMap((value) => (typeof value === 'object' && value !== null ? Object.values(value) : [value]))
    .filter((value): value is string => typeof value === 'string' && value.length > 3);
}

/** What `fn` threw, or undefined when it returned. */
export function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** `thrown` is a ConfigError naming `field` (in `.field` and the message) and quoting no secret. */
export function expectConfigError(thrown: unknown, field: string, secrets: readonly string[]): void {
  expect(thrown, `a config broken at "${field}" was accepted`).toBeInstanceOf(ConfigError);
  const error = thrown as ConfigError;
  expect(error.field).toBe(field);
  expect(error.message).toContain(field);
  for (const secret of secrets) expect(error.message, 'a config error quoted a secret').not.toContain(secret);
}

/** Settles `promise` or fails after `ms`, so a hanging manager fails the test instead of stalling it. */
export async function within<T>(ms: number, promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const settled = promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    const first = await Promise.race([settled, timeout]);
    if (first === 'timeout') throw new Error(`no answer within ${ms} ms`);
    return first;
  } finally {
    clearTimeout(timer);
  }
}
