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

/** `n` JSON texts; `tag` goes into every id so two runs never share ids. */
export function makeEvents(n: number, tag: string): string[] {
  const events = new Array<string>(n);
  for (let i = 0; i < n; i++) events[i] = pad(makeEvent(i, tag));
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
