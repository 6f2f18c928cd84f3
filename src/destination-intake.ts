/**
 * Whether a destination takes new events: one rule for every way in (the API's submit answers
 * 409, `batch-router enqueue` exits 2), so the two can never disagree about the same entry.
 * The rule follows what the daemon does with such jobs: a disabled destination's jobs would sit
 * unserved, and an invalid one's are aborted at once, so accepting either would only hide the
 * problem from the producer.
 */
import type { Destination } from './destinations.ts';

export interface IntakeRefusal {
  /** Stable machine-readable reason, used as the API's error code. */
  readonly code: 'destination_disabled' | 'destination_invalid';
  /** Names the destination, what is wrong and the fix; safe to show any caller. */
  readonly message: string;
  /**
   * The entry's own problem text (field, value, fix, file path; secrets already scrubbed). Meant
   * for the operator (CLI, daemon log); the API does not send it to producers, since it names
   * files and settings of the server.
   */
  readonly problem?: string;
}

/** Undefined when `destination` accepts events; otherwise why not. Disabled is checked first. */
export function intakeRefusal(destination: Destination): IntakeRefusal | undefined {
  const id = destination.id;
  if (!destination.enabled) {
    return {
      code: 'destination_disabled',
      message: `destination "${id}" is disabled and is not accepting events: fix: set "enabled": true for it in the destinations file and restart the daemon`,
    };
  }
  if (!destination.valid) {
    return {
      code: 'destination_invalid',
      message:
        `destination "${id}" has an invalid configuration and is not accepting events (the daemon aborts its queued jobs): ` +
        'fix the entry or the environment variable named in the problem, then restart the daemon',
      problem: destination.error ?? `destination "${id}" is invalid`,
    };
  }
  return undefined;
}
