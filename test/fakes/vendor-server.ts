/**
 * The plumbing shared by the vendor fakes (Marketo, Salesforce): a real HTTP server on
 * 127.0.0.1 with named routes, a record of every request (so tests can check what was sent and
 * that no secret ever appeared in a URL), and scripted faults (an HTTP status, a vendor error
 * body, a delay) for the next requests of a route.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Reply {
  status: number;
  /** Sent as `application/json`. */
  json?: unknown;
  /** Sent as `contentType` (default text/plain). */
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface RouteRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** Capture groups of the route pattern. */
  readonly params: string[];
}

export interface Route {
  /** Names the route for faults and records: "upload", "status". */
  readonly name: string;
  readonly method: string;
  readonly pattern: RegExp;
  handle(request: RouteRequest): Promise<Reply> | Reply;
}

/** What to do to the next request(s) of a route instead of (or before) handling it. */
export interface Fault {
  /** Route name; any route when absent. */
  on?: string;
  /** Answer this instead of handling the request; without it the request is handled after `delayMs`. */
  reply?: Reply;
  /** Wait this long first: longer than the client's timeout makes a timeout. */
  delayMs?: number;
  /** How many matching requests this fault answers; default 1. */
  times?: number;
}

export interface RecordedRequest {
  readonly route: string;
  readonly method: string;
  /** Path and query string as received. */
  readonly url: string;
  readonly authorization: string | undefined;
  readonly contentType: string | undefined;
  readonly bodyBytes: number;
  status: number;
}

export class VendorServer {
  readonly #faults: Array<Fault & { times: number }> = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly requests: RecordedRequest[] = [];
  // A client that drops the connection mid-body (a killed daemon) must not become an unhandled rejection.
  readonly server = createServer((req, res) => void this.#serve(req, res).catch(() => res.destroy()));
  url = '';

  readonly #routes: Route[] = [];

  /** Adds routes; the first whose method and pattern match a request handles it. */
  route(...routes: Route[]): this {
    this.#routes.push(...routes);
    return this;
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Queues faults; each applies to the next `times` requests of its route. */
  script(...faults: Fault[]): void {
    for (const fault of faults) this.#faults.push({ ...fault, times: fault.times ?? 1 });
  }

  /** Requests handled so far, optionally of one route. */
  count(route?: string): number {
    return route === undefined ? this.requests.length : this.requests.filter((r) => r.route === route).length;
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    let route: Route | undefined;
    let match: RegExpExecArray | null = null;
    for (const candidate of this.#routes) {
      match = candidate.method === req.method ? candidate.pattern.exec(url.pathname) : null;
      if (match) {
        route = candidate;
        break;
      }
    }
    const record: RecordedRequest = {
      route: route?.name ?? 'unknown',
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
      contentType: req.headers['content-type'],
      bodyBytes: body.length,
      status: 0,
    };
    this.requests.push(record);
    let reply: Reply;
    try {
      const fault = this.#takeFault(record.route);
      if (fault?.delayMs) await this.#delay(fault.delayMs);
      if (fault?.reply) reply = fault.reply;
      else if (!route || !match) reply = { status: 404, json: [{ errorCode: 'NOT_FOUND', message: 'no such route in the fake' }] };
      else reply = await route.handle({ method: record.method, url, headers: req.headers, body, params: match.slice(1) });
    } catch (error) {
      reply = { status: 500, text: `fake failed: ${(error as Error).message}` };
    }
    record.status = reply.status;
    if (res.destroyed) return; // the client gave up (timeout) while we were delaying
    const payload = reply.json !== undefined ? JSON.stringify(reply.json) : (reply.text ?? '');
    const contentType = reply.json !== undefined ? 'application/json;charset=UTF-8' : (reply.contentType ?? 'text/plain');
    res.writeHead(reply.status, { 'content-type': contentType, ...(reply.headers ?? {}) });
    res.end(payload);
  }

  #takeFault(route: string): Fault | undefined {
    const index = this.#faults.findIndex((f) => f.on === undefined || f.on === route);
    if (index < 0) return undefined;
    const fault = this.#faults[index]!;
    fault.times -= 1;
    if (fault.times <= 0) this.#faults.splice(index, 1);
    return fault;
  }

  #delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        resolve();
      }, ms);
      this.#timers.add(timer);
    });
  }
}
