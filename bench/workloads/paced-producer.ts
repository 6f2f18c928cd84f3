/**
 * W2's producer: hands `total` events to a system at `ratePerSec`, in small batches every
 * `tickMs`. Pacing follows the clock, not a chain of sleeps: at every tick it sends exactly the
 * events that are due by then (rate × time since the start), so a slow enqueue call or a late
 * timer makes the next batch bigger instead of shifting the whole schedule later. A system whose
 * enqueue path cannot keep up therefore shows as a producer that finished late (its achieved rate
 * is below target), never as a quietly lower target.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface PacedProducerOptions {
  ratePerSec: number;
  total: number;
  tickMs: number;
  /**
   * Most events per call (default: all that are due). A producer that fell behind then catches up
   * in several calls rather than one huge one, which would hold the event loop (building the
   * events) and the database (one long insert) for seconds.
   */
  maxBatch?: number;
  /** Enqueues events number `first` .. `first + count - 1`; one call in flight at a time. */
  send: (first: number, count: number) => Promise<void>;
}

export interface PacedProducerResult {
  /** From the first tick until the last enqueue call returned. */
  seconds: number;
  /** total / seconds: equals the target (within a tick) when the producer kept up. */
  perSec: number;
  calls: number;
  /** Longest time an event was overdue when its batch was sent (ms): > tickMs means it fell behind. */
  maxLagMs: number;
}

export async function producePaced(options: PacedProducerOptions): Promise<PacedProducerResult> {
  const { ratePerSec, total, tickMs } = options;
  const started = performance.now();
  let sent = 0;
  let calls = 0;
  let maxLagMs = 0;
  while (sent < total) {
    const elapsed = performance.now() - started;
    const due = Math.min(total, Math.floor((ratePerSec * elapsed) / 1000), sent + (options.maxBatch ?? total));
    if (due > sent) {
      // The oldest event of this batch was due at sent / rate; how late is it being handed over?
      maxLagMs = Math.max(maxLagMs, elapsed - (sent * 1000) / ratePerSec);
      await options.send(sent, due - sent);
      calls += 1;
      sent = due;
    }
    if (sent >= total) break;
    const now = performance.now() - started;
    if (Math.floor((ratePerSec * now) / 1000) > sent) continue; // still behind: no sleep
    await sleep((Math.floor(now / tickMs) + 1) * tickMs - now);
  }
  const seconds = (performance.now() - started) / 1000;
  return { seconds, perSec: total / seconds, calls, maxLagMs };
}
