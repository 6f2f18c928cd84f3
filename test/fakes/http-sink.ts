/**
 * A local HTTP endpoint standing in for a webhook receiver, for tests and the benchmark. It
 * accepts POSTs of `{"events":[...]}` (application/json) or NDJSON (application/x-ndjson), counts
 * events and their ids (`id` or `messageId`), and can be scripted to misbehave. Per-request work is
 * one parse and a few counters; bodies and headers are kept only with `record: true`.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What to answer one request with. Events of a 2xx answer are counted before any delay. */
export interface SinkStep {
  /** HTTP status; default 200. */
  status?: number;
  /** `Retry-After` header: a number is seconds, a string is sent as is (an HTTP date). */
  retryAfter?: number | string;
  /** Wait this long before answering (after reading the body): provokes client timeouts. */
  delayMs?: number;
  /** Response body; defaults to a short JSON note. */
  body?: string;
  /** How many consecutive requests this step answers; default 1. */
  times?: number;
  /**
   * Cut the connection instead of answering: `before` drops the events (as a crash before the
   * receiver stored them), `after` counts them first (stored, but the client never hears so and
   * sends them again: a duplicate).
   */
  reset?: 'before' | 'after';
}

export interface SinkStats {
  /** Every request that reached the handler, whatever the answer. */
  requests: number;
  /** Requests answered 2xx: their events count as delivered. */
  accepted: number;
  /** Requests answered with anything else (scripted failures, malformed bodies). */
  rejected: number;
  /** Events in accepted requests, duplicates included. */
  events: number;
  uniqueIds: number;
  /** Accepted events whose id had been accepted before. */
  duplicates: number;
  eventsWithoutId: number;
  /** Request body bytes of all requests. */
  bytes: number;
  statuses: Record<number, number>;
  /** Connections cut by a `reset` step instead of an answer. */
  resets: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

export interface SinkOptions {
  /** Keep headers and bodies of every request in `requests()`; off by default to stay cheap. */
  record?: boolean;
  /** Seed of the generator behind `failFraction`, so a benchmark run is reproducible. */
  seed?: number;
}

export interface HttpSink {
  /** Base URL such as `http://127.0.0.1:41234`; any path is accepted. */
  readonly url: string;
  stats(): SinkStats;
  /** Recorded requests, oldest first; empty unless started with `record: true`. */
  requests(): RecordedRequest[];
  /** Queues answers for the next requests, in order; unscripted requests get 200. */
  script(...steps: SinkStep[]): void;
  /** After the script runs out, answer this fraction (0–1) of requests with `step` instead of 200. */
  failFraction(fraction: number, step?: Omit<SinkStep, 'times'>): void;
  /** Like `failFraction` with a different step drawn for each failing request (a fault mix). */
  failWith(fraction: number, pick: (random: () => number) => Omit<SinkStep, 'times'>): void;
  /** Ids (`id` or `messageId`) of every accepted event. */
  receivedIds(): Set<string>;
  /** Zeroes counters, ids, recordings, script and failure fraction. */
  reset(): void;
  close(): Promise<void>;
}

export async function startHttpSink(options: SinkOptions = {}): Promise<HttpSink> {
  let stats = emptyStats();
  let ids = new Set<string>();
  let recorded: RecordedRequest[] = [];
  let queue: Array<SinkStep & { times: number }> = [];
  let failure: { fraction: number; step: (random: () => number) => SinkStep } | undefined;
  let random = mulberry32(options.seed ?? 1);

  function nextStep(): SinkStep {
    const head = queue[0];
    if (head) {
      head.times -= 1;
      if (head.times <= 0) queue.shift();
      return head;
    }
    if (failure && random() < failure.fraction) return failure.step(random);
    return {};
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    stats.requests += 1;
    stats.bytes += raw.length;
    const step = req.method === 'POST' ? nextStep() : { status: 405, body: 'POST only' };
    let status = step.status ?? 200;
    let body = step.body;
    let events: unknown[] = [];
    if (step.reset === 'before') {
      stats.resets += 1;
      req.socket.destroy();
      return;
    }
    if (isSuccess(status)) {
      const parsed = parseEvents(req.headers['content-type'], raw.toString('utf8'));
      if (typeof parsed === 'string') [status, body] = [400, parsed];
      else events = parsed;
    }
    stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
    if (isSuccess(status)) countEvents(events);
    else stats.rejected += 1;
    if (options.record) {
      recorded.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: raw.toString('utf8'), status });
    }
    if (step.reset === 'after') {
      stats.resets += 1;
      req.socket.destroy();
      return;
    }
    if (step.delayMs) await new Promise((resolve) => setTimeout(resolve, step.delayMs));
    if (res.destroyed) return; // the client gave up (timeout) while we waited
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (step.retryAfter !== undefined) headers['retry-after'] = String(step.retryAfter);
    res.writeHead(status, headers);
    res.end(body ?? JSON.stringify(isSuccess(status) ? { accepted: events.length } : { error: `status ${status}` }));
  }

  /** Counts one accepted request's events and ids. */
  function countEvents(events: unknown[]): void {
    stats.accepted += 1;
    stats.events += events.length;
    for (const event of events) {
      const record = (typeof event === 'object' && event !== null ? event : {}) as Record<string, unknown>;
      const id = record.id ?? record.messageId;
      if (id === undefined || id === null) stats.eventsWithoutId += 1;
      else if (ids.has(String(id))) stats.duplicates += 1;
      else ids.add(String(id));
    }
    stats.uniqueIds = ids.size;
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
    stats: () => ({ ...stats, statuses: { ...stats.statuses } }),
    requests: () => [...recorded],
    script: (...steps) => {
      for (const step of steps) queue.push({ ...step, times: step.times ?? 1 });
    },
    failFraction: (fraction, step = { status: 503 }) => {
      failure = fraction > 0 ? { fraction, step: () => step } : undefined;
    },
    failWith: (fraction, pick) => {
      failure = fraction > 0 ? { fraction, step: pick } : undefined;
    },
    receivedIds: () => new Set(ids),
    reset: () => {
      stats = emptyStats();
      ids = new Set();
      recorded = [];
      queue = [];
      failure = undefined;
      random = mulberry32(options.seed ?? 1);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections(); // keep-alive sockets would hold close() open
      }),
  };
}

const isSuccess = (status: number): boolean => status >= 200 && status < 300;

/** The events of a body, or a sentence saying why it is malformed (sent back with a 400). */
function parseEvents(contentType: string | undefined, text: string): unknown[] | string {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  try {
    if (type === 'application/json') {
      const parsed = JSON.parse(text) as { events?: unknown };
      return Array.isArray(parsed?.events) ? parsed.events : 'body must be {"events":[...]}';
    }
    if (type === 'application/x-ndjson') {
      return text.split('\n').filter((line) => line.length > 0).map((line) => JSON.parse(line) as unknown);
    }
  } catch (error) {
    return `malformed ${type} body: ${(error as Error).message}`;
  }
  return `unsupported content-type "${type}"; send application/json or application/x-ndjson`;
}

function emptyStats(): SinkStats {
  return { requests: 0, accepted: 0, rejected: 0, events: 0, uniqueIds: 0, duplicates: 0, eventsWithoutId: 0, bytes: 0, statuses: {}, resets: 0 };
}

/** Small seeded generator: `Math.random` would make failure runs unrepeatable. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Alias matching the `start()` name used in the benchmark notes. */
export const start = startHttpSink;
