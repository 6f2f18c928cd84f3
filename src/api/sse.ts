/**
 * Server-Sent Events for long-running resources (a submission, an upload). Snapshots come from
 * the resource's shared reader (followers.ts): `progress` whenever it changed and one terminal
 * `completed` event carrying the final state, then the stream closes. A client that connects
 * after completion gets the terminal event at once. Heartbeat comments keep proxies from closing
 * a quiet stream; stopping the API ends every stream so shutdown never waits on a client. Each
 * stream holds one slot of the per-key and per-process limits (holds.ts) until it ends.
 */
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { principalKey } from './auth.ts';
import type { ApiContext } from './context.ts';
import type { Snapshot } from './followers.ts';

export interface StreamOptions {
  /** Followed-resource key, e.g. `submission:<id>`: streams with the same key share one reader. */
  key: string;
  /** Reads the resource now (run by the shared reader only). */
  read(): Promise<Snapshot>;
  /** This subscriber's view of a snapshot's data (e.g. redactions for its key). */
  present?: (data: unknown) => unknown;
}

function frame(event: string, id: number, data: unknown): string {
  // JSON never contains a raw newline, so one data line always holds the whole payload.
  return `event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Takes over the response and streams until the resource is final, the client leaves, or the API stops. */
export async function streamSnapshots(ctx: ApiContext, request: FastifyRequest, reply: FastifyReply, options: StreamOptions): Promise<void> {
  const release = ctx.holds.acquire(principalKey(request.principal), 'streams');
  const subscription = ctx.followers.follow(options.key, options.read);
  const controller = new AbortController();
  const signal = AbortSignal.any([controller.signal, ctx.stopping]);
  const log: Pick<FastifyBaseLogger, 'error'> = request.log;
  const present = options.present ?? ((data: unknown) => data);
  let hijacked = false;
  let heartbeat: NodeJS.Timeout | undefined;
  const onClose = () => controller.abort();
  try {
    // The first snapshot arrives before the socket is taken over, so a failing first read is an ordinary error response.
    let snapshot = await subscription.next(signal);
    if (!snapshot) return;
    reply.hijack();
    hijacked = true;
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
    raw.once('close', onClose);
    heartbeat = setInterval(() => raw.write(`: heartbeat ${new Date().toISOString()}\n\n`), ctx.config.sseHeartbeatMs);
    let eventId = 0;
    while (snapshot && !signal.aborted) {
      raw.write(frame(snapshot.done ? 'completed' : 'progress', ++eventId, present(snapshot.data)));
      if (snapshot.done) break;
      snapshot = await subscription.next(signal);
    }
  } catch (error) {
    if (!hijacked) throw error;
    log.error({ err: error }, 'SSE stream ended: its shared reader failed repeatedly');
  } finally {
    clearInterval(heartbeat);
    subscription.close();
    release();
    if (hijacked) {
      reply.raw.off('close', onClose);
      reply.raw.end();
    }
  }
}
