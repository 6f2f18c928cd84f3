/**
 * Running a unit of database work again when PostgreSQL rolled it back for reasons that say
 * nothing about the work: chosen as a deadlock's victim (40P01) or a serialization failure
 * (40001). Both undo the whole transaction, so running it again from the start is safe, and
 * doing so at once keeps an upload's outcome from waiting out its lease (a crashed recording is
 * otherwise recovered only after the lease expires, and the upload is sent again).
 */
import { toError } from '../manager/errors.ts';

const ROLLED_BACK = new Set(['40P01', '40001']);

/** Whether `error` is PostgreSQL undoing a transaction that may simply be run again. */
export function isRolledBackByServer(error: unknown): boolean {
  return ROLLED_BACK.has((error as { code?: string } | null)?.code ?? '');
}

/**
 * Runs `work` up to `tries` times while it fails with `isRolledBackByServer`; `work` must be one
 * whole transaction (or one statement outside any), so nothing of a failed try remains.
 */
export async function retryRolledBack<T>(work: () => Promise<T>, onRetry: (error: Error, tryNumber: number) => void, tries = 3): Promise<T> {
  for (let tryNumber = 1; ; tryNumber += 1) {
    try {
      return await work();
    } catch (error) {
      if (tryNumber >= tries || !isRolledBackByServer(error)) throw error;
      onRetry(toError(error), tryNumber);
    }
  }
}
