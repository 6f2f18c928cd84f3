/**
 * One POST over node:http(s) with keep-alive connections, for the webhook. Not `fetch`: measured on
 * this 2-core machine, a POST of 500 events (140 KB) to a local receiver cost the client 1.2 ms of
 * CPU through fetch and 0.45 ms through node:http, and at the webhook's default of 500 events per
 * upload that difference was a fifth of the daemon's work per upload.
 *
 * Redirects are never followed (the caller reports them); the answer's body is read up to a cap
 * and the rest dropped. Failing to get an answer rejects with `PostFailure`, saying whether the
 * caller's signal or the timeout ended it.
 */
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';

const agents = {
  'http:': new http.Agent({ keepAlive: true }),
  'https:': new https.Agent({ keepAlive: true }),
};

export interface PostAnswer {
  readonly status: number;
  /** A response header by lower-case name, or null. */
  header(name: string): string | null;
  /** The body, read up to the cap given for this status. */
  readonly body: string;
  /** The body stopped arriving before it was complete (read as far as it came). */
  readonly bodyError: Error | undefined;
}

export class PostFailure extends Error {
  constructor(
    readonly reason: 'cancelled' | 'timeout' | 'network',
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'PostFailure';
  }
}

export interface PostOptions {
  readonly headers: Readonly<Record<string, string>>;
  /** A whole body (sent with a Content-Length), or chunks to stream (sent chunked). */
  readonly body: string | Buffer | AsyncIterable<string>;
  readonly signal: AbortSignal;
  /** For the whole exchange, body included. */
  readonly timeoutMs: number;
  /** Bytes of the answer's body to read for a given status. */
  readonly maxBodyBytes: (status: number) => number;
}

export function post(url: string, options: PostOptions): Promise<PostAnswer> {
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  const agent = agents[target.protocol as keyof typeof agents];
  const headers: Record<string, string | number> = { ...options.headers };
  const { body } = options;
  const whole = typeof body === 'string' || Buffer.isBuffer(body);
  if (whole) headers['content-length'] = Buffer.byteLength(body);
  return new Promise<PostAnswer>((resolve, reject) => {
    let failure: PostFailure | undefined;
    const fail = (reason: PostFailure['reason'], cause: unknown) => {
      failure ??= new PostFailure(reason, cause);
      request.destroy(failure);
    };
    const timer = setTimeout(() => fail('timeout', new Error(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    const onAbort = () => fail('cancelled', options.signal.reason);
    const done = () => {
      clearTimeout(timer);
      options.signal.removeEventListener('abort', onAbort);
    };
    const request = client.request(target, { method: 'POST', agent, headers }, (response) => {
      readBody(response, options.maxBodyBytes(response.statusCode ?? 0)).then(({ body, error }) => {
        done();
        // The answer arrived: a timeout or cancel while its body was read only shortens the body.
        resolve({
          status: response.statusCode ?? 0,
          header: (name) => headerText(response.headers[name]),
          body,
          bodyError: error ?? failure,
        });
      }, reject);
    });
    request.on('error', (error) => {
      done();
      reject(failure ?? new PostFailure(options.signal.aborted ? 'cancelled' : 'network', error));
    });
    if (options.signal.aborted) return onAbort();
    options.signal.addEventListener('abort', onAbort, { once: true });
    if (whole) request.end(body);
    else Readable.from(body).on('error', (error) => request.destroy(error)).pipe(request);
  });
}

/** Reads up to `maxBytes` of the body; past that the connection is dropped, not drained. */
function readBody(response: http.IncomingMessage, maxBytes: number): Promise<{ body: string; error: Error | undefined }> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    const finish = (error: Error | undefined) => resolve({ body: Buffer.concat(parts).subarray(0, maxBytes).toString('utf8'), error });
    response.on('data', (chunk: Buffer) => {
      parts.push(chunk);
      size += chunk.length;
      if (size >= maxBytes) {
        response.destroy();
        finish(undefined);
      }
    });
    response.on('end', () => finish(undefined));
    response.on('error', (error) => finish(error));
    response.on('close', () => {
      if (!response.complete && size < maxBytes) finish(new Error(`the answer ended after ${size} bytes, before its body was complete`));
    });
  });
}

function headerText(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}
