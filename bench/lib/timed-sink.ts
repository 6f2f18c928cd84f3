/**
 * The webhook receiver of W2 (steady rate): accepts the same `POST {"events":[...]}` bodies as the
 * test sink (test/fakes/http-sink.ts) and counts ids and duplicates the same way, and also records,
 * for every event received for the first time, receive time − the `enqueuedAt` stamp the producer
 * put into it. The test sink exposes no per-event hook, so this is its own small server rather than
 * a wrapper; W1 and W3 keep using the test sink.
 *
 * The receive time is taken once per request, when its last byte has arrived and before parsing,
 * so parsing a big body is not billed to the system under test.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LatencyPercentiles } from './types.ts';
import { benchClockMs, ENQUEUED_AT_FIELD } from '../workloads/events.ts';

export interface TimedSinkCounts {
  requests: number;
  rejected: number;
  events: number;
  uniqueIds: number;
  duplicates: number;
}

export interface LatencyReport extends LatencyPercentiles {
  /** Events with a latency (first deliveries carrying a stamp). */
  count: number;
  max: number;
  /** Events delivered without a usable `enqueuedAt`: a producer bug, should stay 0. */
  unstamped: number;
  /** Bench-clock ms (see benchClockMs) of the first and last request that brought a new id. */
  firstAt: number | null;
  lastAt: number | null;
}

/** The latencies of the events first delivered since the previous window (the soak's samples). */
export interface LatencyWindow extends LatencyPercentiles {
  delivered: number;
  max: number;
}

export interface TimedSink {
  readonly url: string;
  counts(): TimedSinkCounts;
  /** Percentiles over every latency recorded so far (sorts a copy: call it once, at the end). */
  latency(): LatencyReport;
  /** Percentiles since the last call, then forgets them (windowed sinks only keep these). */
  window(): LatencyWindow;
  close(): Promise<void>;
}

/**
 * `windowed`: for the hour-long soak. Keeping every latency of 100M events would take ~1 GB and a
 * Set of their ids cannot grow past 2^24 entries, so a windowed sink keeps only the current
 * window's latencies (`latency()` then covers the window, not the run) and remembers ids in a
 * bitmap indexed by their number (ids are `<tag>-<n>`, see makeEvents).
 */
export async function startTimedSink(options: { windowed?: boolean } = {}): Promise<TimedSink> {
  const counts: TimedSinkCounts = { requests: 0, rejected: 0, events: 0, uniqueIds: 0, duplicates: 0 };
  const ids = options.windowed ? new NumberedIdSet() : new Set<string>();
  let windowStart = 0;
  let latencies = new Float64Array(1 << 16);
  let recorded = 0;
  let unstamped = 0;
  let firstAt: number | null = null;
  let lastAt: number | null = null;

  function record(ms: number): void {
    if (recorded === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[recorded++] = ms;
  }

  function accept(events: unknown[], receivedAt: number): void {
    let fresh = 0;
    for (const event of events) {
      const fields = (typeof event === 'object' && event !== null ? event : {}) as Record<string, unknown>;
      const id = String(fields.id);
      if (ids.has(id)) {
        counts.duplicates += 1;
        continue;
      }
      ids.add(id);
      fresh += 1;
      const stamp = fields[ENQUEUED_AT_FIELD];
      if (typeof stamp === 'number') record(receivedAt - stamp);
      else unstamped += 1;
    }
    counts.events += events.length;
    counts.uniqueIds = ids.size;
    if (fresh > 0) {
      firstAt ??= receivedAt;
      lastAt = receivedAt;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const receivedAt = benchClockMs();
    counts.requests += 1;
    let events: unknown;
    try {
      events = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events?: unknown }).events;
    } catch {
      events = undefined;
    }
    if (!Array.isArray(events)) {
      counts.rejected += 1;
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"body must be {\\"events\\":[...]}"}');
      return;
    }
    accept(events, receivedAt);
    res.writeHead(200, { 'content-type': 'application/json' }).end(`{"accepted":${events.length}}`);
  }

  const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent && !res.destroyed) res.writeHead(500).end(String(error));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    counts: () => ({ ...counts }),
    latency: () => ({ ...percentiles(latencies.subarray(0, recorded)), count: recorded, unstamped, firstAt, lastAt }),
    window: () => {
      const result = { ...percentiles(latencies.subarray(windowStart, recorded)), delivered: recorded - windowStart };
      if (options.windowed) recorded = 0;
      windowStart = recorded;
      return result;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** Nearest-rank percentiles (the smallest value with at least p% of values at or below it). */
function percentiles(values: Float64Array): LatencyPercentiles & { max: number } {
  if (values.length === 0) return { p50: 0, p95: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(values).sort();
  const at = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return { p50: at(50), p95: at(95), p99: at(99), max: sorted[sorted.length - 1]! };
}

/** The Set<string> subset the sink uses, as one bit per id number: 100M ids take 12.5 MB. */
class NumberedIdSet {
  #bits = new Uint8Array(1 << 20);
  size = 0;

  has(id: string): boolean {
    const n = idNumber(id);
    return n >> 3 < this.#bits.length && (this.#bits[n >> 3]! & (1 << (n & 7))) !== 0;
  }

  add(id: string): void {
    const n = idNumber(id);
    while (n >> 3 >= this.#bits.length) {
      const grown = new Uint8Array(this.#bits.length * 2);
      grown.set(this.#bits);
      this.#bits = grown;
    }
    this.#bits[n >> 3]! |= 1 << (n & 7);
    this.size += 1;
  }
}

function idNumber(id: string): number {
  const n = Number(id.slice(id.lastIndexOf('-') + 1));
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`a windowed sink needs ids ending in -<number>, got "${id}"`);
  return n;
}
