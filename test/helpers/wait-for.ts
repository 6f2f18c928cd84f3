/**
 * Polls a condition until it yields a truthy value. Tests synchronise on observable state with
 * this instead of sleeping for a guessed duration, which is both slow and flaky.
 *
 * The default deadline is long (60 s) on purpose: a condition that comes true returns at once, so
 * the deadline only decides when a broken test gives up, and must not be what fails a working
 * one on a machine busy with a second copy of the suite (10 s did). It stays under the 120 s test
 * cap so the timeout message, which names what was awaited, is what a failure shows.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { inspect } from 'node:util';

export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** What was awaited, for the timeout error: "the upload to finish". */
  message?: string;
}

type Falsy = undefined | false | null;

export const DEFAULT_WAIT_MS = 60_000;

/**
 * Resolves with the first truthy value `check` returns. A check that throws counts as not yet;
 * at the deadline it rejects with `message` and the last value or error seen. A check that never
 * settles is abandoned at the deadline too.
 */
export async function waitFor<T>(
  check: () => Promise<T | Falsy> | T | Falsy,
  { timeoutMs = DEFAULT_WAIT_MS, intervalMs = 25, message = 'a condition' }: WaitForOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const timedOut = Symbol('timed out');
  let timer: NodeJS.Timeout | undefined;
  // Settles one macrotask after the deadline, so a check already done by then (synchronous, or
  // finished within microtasks) still wins the race below; only a check that hangs loses.
  const expiry = new Promise<typeof timedOut>((resolve) => {
    timer = setTimeout(() => setImmediate(() => resolve(timedOut)), timeoutMs);
  });
  let last: { value: unknown } | { error: unknown } = { value: undefined };
  let stillRunning = false;
  try {
    for (;;) {
      try {
        const value = await Promise.race([Promise.resolve().then(check), expiry]);
        if (value === timedOut) {
          stillRunning = true;
          break;
        }
        if (value) return value as T;
        last = { value };
      } catch (error) {
        last = { error };
      }
      if (Date.now() >= deadline) break;
      await delay(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
    }
  } finally {
    clearTimeout(timer);
  }
  let detail = 'error' in last ? `last error: ${describe(last.error)}` : `last value: ${describe(last.value)}`;
  if (stillRunning) detail += '; the final check was still running at the deadline';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${message} (${detail})`, {
    cause: 'error' in last ? last.error : undefined,
  });
}

function describe(value: unknown): string {
  const text = value instanceof Error ? value.message : inspect(value, { depth: 3, breakLength: Infinity });
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
