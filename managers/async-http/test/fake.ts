/**
 * A fake service speaking the async-operations protocol (managers/async-http/README.md) on
 * 127.0.0.1: `POST /operations/batch` answered synchronously (200, per-item results) or
 * asynchronously (202 with one operation id per item, or one for the batch), and
 * `GET /operations/{id}` moving pending → processing → completed/failed. Errors use the
 * protocol's `{ error_code, error_message }`. Answers can be scripted per route (429 with
 * Retry-After, 5xx, malformed 202s), and an operation can report a status the protocol lacks.
 *
 * By default an operation's fate comes from the event itself: `fail: "CODE"` makes it fail with
 * that code, `reportStatus: "x"` makes it report status "x"; anything else completes.
 *
 * What it enforces, from the protocol (managers/async-http/README.md):
 * | rule | README section |
 * |---|---|
 * | `POST /operations/batch` and `GET /operations/{id}` only; anything else 404 `NOT_FOUND` | The protocol |
 * | `Authorization: Bearer <token>` when a token is set, else 401 `UNAUTHENTICATED` | Config (`headers`) |
 * | body is JSON with a non-empty `operations` array, else 400 `INVALID_JSON` / `INVALID_REQUEST` | Submit |
 * | 200 carries `results` (one per operation, in order); 202 carries `operation_ids` | Submit |
 * | an operation moves pending → processing → completed/failed, one step per read | Status |
 * | a batch whose operations all failed is itself `failed` with `BATCH_FAILED` | Status |
 * | unknown operation id → 404 | Status |
 * | a submit's `Idempotency-Key` seen before with the same body replays the first answer; with another body 422 `IDEMPOTENCY_KEY_REUSED` | Submit |
 *
 * Idempotency is what Stripe-style APIs do: an executed request's answer is stored under its key
 * (throttled and 5xx answers are not, so those may be retried); every request is recorded with
 * the status it got, so a test can tell an accepted submit from a refused one.
 * `misreport(mode)` makes later answers break the one-result-per-operation rule the way a broken
 * service would: `undercount` drops the last result, `stray-row` adds a failed result that belongs
 * to no operation. It answers with per-item result lists (batch, or sync when set so), since only
 * a list can be miscounted.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type OpsAnswer = 'sync' | 'items' | 'batch';
export type OpsRoute = 'submit' | 'poll';
/**
 * A scripted answer for the next request of a route. Without `executed` the request is refused
 * (not executed, not stored under its key). With `executed: true` it is executed and stored as
 * usual, and the client gets `status` instead of the real answer when one is given: a gateway
 * timeout after the service did the work, which only a re-send under the same key survives.
 */
export interface OpsStep { status?: number; retryAfter?: number | string; body?: unknown; executed?: boolean }
export interface OpsRequest { method: string; path: string; headers: IncomingHttpHeaders; body: string; at: number; status?: number; replayed?: boolean }
type Doc = Record<string, unknown>;
type Final = Doc & { status: string };

interface Operation {
  state: 'pending' | 'processing' | 'done';
  /** What it reports once done: one item's result, or the batch document. */
  final: Final;
}

export interface AsyncOpsFakeOptions {
  /** How submits are answered; can be changed later through `fake.answer`. */
  answer?: OpsAnswer;
  /** 'per-poll': each GET moves an operation one step; 'manual': operations wait for finishAll(). */
  progression?: 'per-poll' | 'manual';
  /** When set, requests must carry `Authorization: Bearer <token>`. */
  token?: string;
  decide?: (operation: Doc, index: number) => Final;
}

const defaultDecide = (op: Doc, index: number): Final =>
  typeof op.fail === 'string'
    ? { status: 'failed', error_code: op.fail, error_message: `operation ${index} rejected by the service` }
    : typeof op.reportStatus === 'string'
      ? { status: op.reportStatus }
      : { status: 'completed', result: { accepted: op.id ?? index } };

export async function startAsyncOpsFake(options: AsyncOpsFakeOptions = {}) {
  const operations = new Map<string, Operation>();
  const scripts: Record<OpsRoute, OpsStep[]> = { submit: [], poll: [] };
  const recorded: OpsRequest[] = [];
  /** Executed submits by Idempotency-Key: the body they carried and the answer they got. */
  const byKey = new Map<string, { body: string; status: number; doc: unknown }>();
  const decide = options.decide ?? defaultDecide;
  /** How many times each operation (by its `id` field) was executed, replays not counted. */
  const executions = new Map<string, number>();
  const state: { answer: OpsAnswer; misreport?: 'undercount' | 'stray-row' } = { answer: options.answer ?? 'items' };
  let nextId = 1;

  function open(final: Final): string {
    const id = `op-${nextId++}`;
    operations.set(id, { state: 'pending', final });
    return id;
  }

  function report(id: string, op: Operation): Doc {
    if (op.state === 'pending') return { id, status: 'pending', progress: 0 };
    if (op.state === 'processing') return { id, status: 'processing', progress: 50 };
    return { id, ...op.final };
  }

  function submit(body: string, send: (status: number, doc: unknown) => void) {
    let doc: Doc;
    try {
      doc = JSON.parse(body) as Doc;
    } catch {
      return send(400, { error_code: 'INVALID_JSON', error_message: 'the body is not JSON' });
    }
    const ops = doc.operations;
    if (!Array.isArray(ops) || ops.length === 0) return send(400, { error_code: 'INVALID_REQUEST', error_message: '"operations" must be a non-empty array' });
    for (const op of ops as Doc[]) if (typeof op?.id === 'string') executions.set(op.id, (executions.get(op.id) ?? 0) + 1);
    const finals = miscount(ops.map((op, i) => decide(op as Doc, i)));
    if (state.answer === 'sync') return send(200, { results: finals });
    if (state.answer === 'items' && !state.misreport) return send(202, { status: 'accepted', operation_ids: finals.map(open) });
    const allFailed = finals.every((f) => f.status === 'failed');
    const batch: Final = allFailed
      ? { status: 'failed', error_code: 'BATCH_FAILED', error_message: `all ${finals.length} operations failed` }
      : { status: 'completed', result: { results: finals } };
    send(202, { status: 'accepted', operation_ids: [open(batch)] });
  }

  function submitOnce(key: string | string[] | undefined, body: string, entry: OpsRequest, send: (status: number, doc: unknown) => void) {
    if (typeof key !== 'string') return submit(body, send);
    const seen = byKey.get(key);
    if (seen && seen.body !== body) {
      return send(422, { error_code: 'IDEMPOTENCY_KEY_REUSED', error_message: `Idempotency-Key ${key} was used with another request body` });
    }
    if (seen) {
      entry.replayed = true;
      return send(seen.status, seen.doc);
    }
    submit(body, (status, doc) => {
      if (status !== 429 && status < 500) byKey.set(key, { body, status, doc });
      send(status, doc);
    });
  }

  function miscount(finals: Final[]): Final[] {
    if (state.misreport === 'undercount') return finals.slice(0, -1);
    if (state.misreport === 'stray-row') {
      return [...finals, { status: 'failed', error_code: 'UNKNOWN_ITEM', error_message: 'a result that belongs to no operation' }];
    }
    return finals;
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');
    const entry: OpsRequest = { method: req.method ?? '', path: url.pathname, headers: req.headers, body, at: Date.now() };
    recorded.push(entry);
    const send = (status: number, doc: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(doc));
    };
    const match = /^\/operations\/(batch|[^/]+)$/.exec(url.pathname);
    const route: OpsRoute | undefined = !match ? undefined : match[1] === 'batch' ? 'submit' : 'poll';
    if (!route || (route === 'submit') !== (req.method === 'POST')) return send(404, { error_code: 'NOT_FOUND', error_message: `no route ${req.method} ${url.pathname}` });
    if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) {
      return send(401, { error_code: 'UNAUTHENTICATED', error_message: 'missing or invalid credentials' });
    }
    const step = scripts[route].shift();
    if (step?.executed && route === 'submit') {
      const { status } = step;
      return submitOnce(req.headers['idempotency-key'], body, entry, (real, doc) =>
        status === undefined ? send(real, doc) : send(status, { error_code: 'GATEWAY_TIMEOUT', error_message: `scripted ${status} after executing` }),
      );
    }
    if (step?.status !== undefined) {
      const headers: Record<string, string> = step.retryAfter !== undefined ? { 'retry-after': String(step.retryAfter) } : {};
      return send(step.status, step.body ?? { error_code: step.status === 429 ? 'RATE_LIMITED' : 'UNAVAILABLE', error_message: `scripted ${step.status}` }, headers);
    }
    if (route === 'submit') return submitOnce(req.headers['idempotency-key'], body, entry, send);
    const id = decodeURIComponent(match![1]!);
    const op = operations.get(id);
    if (!op) return send(404, { error_code: 'NOT_FOUND', error_message: `no operation ${id}` });
    if (options.progression !== 'manual') op.state = op.state === 'pending' ? 'processing' : 'done';
    send(200, report(id, op));
  }

  const server = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    operations,
    /** How the next submits are answered. */
    get answer(): OpsAnswer {
      return state.answer;
    },
    set answer(value: OpsAnswer) {
      state.answer = value;
    },
    requests: () => [...recorded],
    /** Times each operation id (the event's `id`) was executed; a replayed request does not count. */
    executions: () => new Map(executions),
    requestCount: () => recorded.length,
    /** Queues answers for the next requests of `route`, in order. */
    script: (route: OpsRoute, ...steps: OpsStep[]) => void scripts[route].push(...steps),
    /** Later answers list one result too few (`undercount`) or one too many (`stray-row`). */
    misreport: async (mode: 'undercount' | 'stray-row') => {
      state.misreport = mode;
    },
    /** Finishes every open operation (conformance `completeImports`). */
    finishAll: async () => operations.forEach((op) => (op.state = 'done')),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export type AsyncOpsFake = Awaited<ReturnType<typeof startAsyncOpsFake>>;
