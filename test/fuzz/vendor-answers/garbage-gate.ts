/**
 * A real HTTP server (node:http, ephemeral port) standing between a manager and its vendor fake.
 * Requests of the step under test are answered with garbage; every other request is forwarded to
 * the fake unchanged, so the valid parts of a flow are the fake's strict answers. The fake's own
 * address is rewritten to the gate's in forwarded answers (Salesforce's `instance_url`, Klaviyo's
 * `links.next`), so the whole conversation keeps going through the gate.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One garbage answer. */
export interface GarbageReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  /**
   * Bytes of the body written before the socket is destroyed: a reset mid-body. The declared
   * Content-Length is the whole body's, so the client sees an answer that ends early.
   */
  readonly resetAfter?: number;
}

export interface GateRequest {
  readonly method: string;
  /** Path and query string, as received. */
  readonly path: string;
}

/** Decides per request: a garbage answer, or undefined to forward to the fake. */
export type GatePlan = (request: GateRequest) => GarbageReply | undefined;

const HOP_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'content-encoding']);

export class GarbageGate {
  readonly #server: Server;
  #url = '';
  /** Requests answered with garbage so far. */
  garbageServed = 0;

  private constructor(private readonly target: string, private readonly plan: GatePlan) {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch(() => res.destroy());
    });
  }

  static async start(target: string, plan: GatePlan): Promise<GarbageGate> {
    const gate = new GarbageGate(target, plan);
    await new Promise<void>((resolve) => gate.#server.listen(0, '127.0.0.1', resolve));
    gate.#url = `http://127.0.0.1:${(gate.#server.address() as AddressInfo).port}`;
    return gate;
  }

  get url(): string {
    return this.#url;
  }

  /** The fake's base URL rewritten to the gate's (for destination configs built by the fake). */
  rewrite(text: string): string {
    return text.split(this.target).join(this.#url);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const garbage = this.plan({ method: req.method ?? 'GET', path: req.url ?? '/' });
    if (garbage) {
      this.garbageServed += 1;
      serve(res, garbage);
      return;
    }
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !HOP_HEADERS.has(name)).map(([name, value]) => [name, String(value)]));
    const body = chunks.length > 0 && req.method !== 'GET' ? Buffer.concat(chunks) : undefined;
    const answer = await fetch(`${this.target}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers, redirect: 'manual', ...(body ? { body } : {}) });
    const text = Buffer.from(this.rewrite(Buffer.from(await answer.arrayBuffer()).toString('utf8')));
    const out: Record<string, string> = {};
    answer.headers.forEach((value, name) => {
      if (!HOP_HEADERS.has(name)) out[name] = this.rewrite(value);
    });
    res.writeHead(answer.status, { ...out, 'content-length': String(text.byteLength) });
    res.end(text);
  }
}

function serve(res: ServerResponse, reply: GarbageReply): void {
  res.writeHead(reply.status, { ...reply.headers, 'content-length': String(reply.body.byteLength) });
  if (reply.resetAfter === undefined || reply.resetAfter >= reply.body.byteLength) {
    res.end(reply.body);
    return;
  }
  // Flush part of the body, then drop the connection: the client's read fails mid-body.
  res.write(reply.body.subarray(0, reply.resetAfter), () => setImmediate(() => res.socket?.destroy()));
}
