/**
 * The one HTTP call every non-batch-router consumer makes: POST a batch of JSON event texts to
 * the sink as `{"events":[...]}` (the body shape the webhook manager sends), over keep-alive
 * connections, failing on any non-2xx answer so the job is retried by its queue.
 */
import { Agent, request } from 'node:http';

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

export function postBatch(url: string, eventTexts: readonly string[], timeoutMs = 30_000): Promise<void> {
  const body = Buffer.from(`{"events":[${eventTexts.join(',')}]}`);
  return new Promise<void>((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, timeout: timeoutMs, headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        res.resume();
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new Error(`sink answered ${status}`));
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`sink did not answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** POSTs until accepted: W3's failed requests are re-sent from memory after `retryDelayMs`. */
export async function postUntilAccepted(url: string, eventTexts: readonly string[], retryDelayMs = 1000): Promise<void> {
  for (;;) {
    try {
      return await postBatch(url, eventTexts);
    } catch {
      await new Promise((r) => setTimeout(r, retryDelayMs));
    }
  }
}

export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set (bench/run.ts sets it)`);
  return value;
}
