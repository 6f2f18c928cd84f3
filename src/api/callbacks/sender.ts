/**
 * One callback attempt: a POST of the stored body with fresh Standard Webhooks headers. Uses
 * node:http(s) rather than fetch so the socket's DNS lookup can be the allow-list check itself
 * (see CallbackPolicy.pinnedLookup). Redirects are not followed: a 3xx is a failed attempt, as
 * Standard Webhooks asks, since following one would let a receiver steer us anywhere.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';

export interface AttemptResult {
  /** HTTP status, or null when no answer arrived (refused, timed out, blocked). */
  status: number | null;
  /** Why the attempt failed, short and safe to show on the submission; null on success. */
  error: string | null;
  /** The receiver's `Retry-After`, when it sent one. */
  retryAfterMs?: number;
}

/** `Retry-After` as seconds or an HTTP date. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export function postCallback(options: {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  lookup: LookupFunction;
  /** Address checks for a literal IP host, which never goes through `lookup`. */
  literalProblem: (address: string) => string | undefined;
  /** Aborts the attempt (shutdown). */
  signal?: AbortSignal;
}): Promise<AttemptResult> {
  const url = new URL(options.url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    const problem = options.literalProblem(host);
    if (problem) return Promise.resolve({ status: null, error: `refused: callback host ${problem}` });
  }
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = send(url, {
      method: 'POST',
      lookup: options.lookup,
      timeout: options.timeoutMs,
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(options.body),
        'user-agent': 'batch-router-callbacks',
        ...options.headers,
      },
    });
    // Overall deadline: `timeout` above only covers idle sockets, not a slow trickle.
    const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    const abort = () => req.destroy(new Error('the sending process is shutting down'));
    options.signal?.addEventListener('abort', abort, { once: true });
    req.on('close', () => options.signal?.removeEventListener('abort', abort));
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(deadline);
      resolve({ status: null, error: `${error.code === 'EREFUSED' ? 'refused' : 'request failed'}: ${error.message}`.slice(0, 500) });
    });
    req.on('response', (res) => {
      let excerpt = '';
      res.setEncoding('utf8');
      // Keep a little of the body for the error text; drain the rest so the socket is released.
      res.on('data', (chunk: string) => {
        if (excerpt.length < 300) excerpt += chunk.slice(0, 300 - excerpt.length);
      });
      res.on('error', () => {});
      res.on('end', () => {
        clearTimeout(deadline);
        const status = res.statusCode ?? 0;
        const ok = status >= 200 && status < 300;
        const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
        const detail = excerpt.replace(/\s+/g, ' ').trim();
        resolve({
          status,
          error: ok ? null : `receiver answered ${status}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}${detail ? `: ${detail}` : ''}`,
          ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        });
      });
    });
    req.end(options.body);
  });
}
