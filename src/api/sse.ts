/**
 * Server-Sent Events for long-running resources (a submission, an upload). The stream re-reads
 * the resource from the database every `ssePollMs` — the database is the only place every
 * process sees the same truth — and sends `progress` whenever it changed and one terminal
 * `completed` event carrying the final state, then closes. A client that connects after
 * completion gets the terminal event at once. Heartbeat comments keep proxies from closing a
 * quiet stream; stopping the API ends every stream so shutdown never waits on a client.
 */
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { abortableDelay } from '../util/delay.ts';

export interface Snapshot {
  /** Sent as the event's data. */
  data: unknown;
  /** True once the resource is final: this snapshot is the terminal event. */
  done: boolean;
}

/** Open streams, so the API can end them all when it stops. */
export class SseRegistry {
  readonly #open = new Set<AbortController>();

  track(controller: AbortController): () => void {
    this.#open.add(controller);
    return () => this.#open.delete(controller);
  }

  get size(): number {
    return this.#open.size;
  }

  closeAll(): void {
    for (const controller of this.#open) controller.abort();
  }
}

export interface StreamOptions {
  pollMs: number;
  heartbeatMs: number;
  registry: SseRegistry;
  log: Pick<FastifyBaseLogger, 'warn' | 'error'>;
  /** Reads the resource now; throws are logged and retried at the next poll. */
  read(): Promise<Snapshot>;
}

function frame(event: string, id: number, data: unknown): string {
  // JSON never contains a raw newline, so one data line always holds the whole payload.
  return `event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Takes over the response and streams until the resource is final, the client leaves, or the API stops. */
export async function streamSnapshots(request: FastifyRequest, reply: FastifyReply, options: StreamOptions): Promise<void> {
  // Read once before taking over the socket, so a failing first read is an ordinary error response.
  let snapshot = await options.read();
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    // nginx buffers responses unless told not to, which would hold events back.
    'X-Accel-Buffering': 'no',
  });
  // A write after the client vanished must not become an unhandled 'error' event.
  raw.on('error', () => {});
  raw.write(`retry: 3000\n\n`);
  const controller = new AbortController();
  const untrack = options.registry.track(controller);
  const onClose = () => controller.abort();
  raw.once('close', onClose);
  const heartbeat = setInterval(() => raw.write(`: heartbeat ${new Date().toISOString()}\n\n`), options.heartbeatMs);
  let eventId = 0;
  let lastSent: string | undefined;
  let failures = 0;
  try {
    while (!controller.signal.aborted) {
      if (snapshot.done) {
        raw.write(frame('completed', ++eventId, snapshot.data));
        break;
      }
      const key = JSON.stringify(snapshot.data);
      if (key !== lastSent) {
        raw.write(frame('progress', ++eventId, snapshot.data));
        lastSent = key;
      }
      await abortableDelay(options.pollMs, controller.signal);
      if (controller.signal.aborted) break;
      try {
        snapshot = await options.read();
        failures = 0;
      } catch (error) {
        // A database hiccup should not cut the stream; a lasting outage ends it (the client reconnects).
        if (++failures >= 5) throw error;
        options.log.warn({ err: error }, 'SSE read failed; retrying at the next poll');
      }
    }
  } catch (error) {
    options.log.error({ err: error }, 'SSE stream ended by repeated read failures');
  } finally {
    clearInterval(heartbeat);
    raw.off('close', onClose);
    untrack();
    raw.end();
  }
}
