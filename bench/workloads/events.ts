/**
 * Benchmark events: realistic-looking e-commerce analytics events of EVENT_BYTES each (as JSON
 * text), every one with a unique `id`, which is what the sink counts to detect loss and
 * duplicates. Sizes are padded to exactly EVENT_BYTES so throughput in events and in bytes stay
 * proportional across runs and systems.
 */

export const EVENT_BYTES = 300;

/** A fixed origin, so the same (n, tag) always yields the same bytes. */
const EPOCH_MS = Date.UTC(2026, 0, 1);
const EVENT_TYPES = ['page_viewed', 'product_added', 'checkout_started', 'order_completed'] as const;

/**
 * W2 stamps every event with the moment it was handed to the system (this field, epoch ms with
 * sub-millisecond digits) and the sink subtracts it from the moment it received the event.
 */
export const ENQUEUED_AT_FIELD = 'enqueuedAt';

/**
 * Wall-clock milliseconds with sub-millisecond resolution. The runner and the sink are processes
 * on the same machine reading the same system clock, so their readings are comparable (only a
 * clock step between two readings, e.g. a manual date change, would skew a latency).
 */
export function benchClockMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface EventOptions {
  /** Index of the first event: a producer building its stream batch by batch keeps ids unique. */
  first?: number;
  /** Enqueue time to stamp into every event (W2); unset: no stamp. */
  enqueuedAt?: number;
}

/** `n` JSON texts; `tag` goes into every id so two runs never share ids. */
export function makeEvents(n: number, tag: string, options: EventOptions = {}): string[] {
  const first = options.first ?? 0;
  const events = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const event = makeEvent(first + i, tag);
    if (options.enqueuedAt !== undefined) event[ENQUEUED_AT_FIELD] = options.enqueuedAt;
    events[i] = pad(event);
  }
  return events;
}

function makeEvent(i: number, tag: string): Record<string, unknown> {
  return {
    id: `${tag}-${i}`,
    type: EVENT_TYPES[i % EVENT_TYPES.length],
    timestamp: new Date(EPOCH_MS + i * 250).toISOString(),
    userId: `user-${i % 9973}`,
    context: {
      ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      locale: 'en-GB',
      page: `/products/${i % 1009}`,
    },
    properties: {
      orderId: `ord-${i}`,
      total: (i % 50_000) / 100,
      currency: 'EUR',
      items: (i % 7) + 1,
    },
  };
}

/** Adds a `note` of filler so the JSON text is EVENT_BYTES long (all ASCII, so chars = bytes). */
function pad(event: Record<string, unknown>): string {
  const bare = JSON.stringify(event);
  const room = EVENT_BYTES - bare.length - ',"note":""'.length;
  if (room <= 0) return bare;
  return JSON.stringify({ ...event, note: 'x'.repeat(room) });
}
