/**
 * One dedicated LISTEN connection per router process. A notification names a destination; the
 * router wakes that destination's loop (a wake of an already awake loop is a no-op, so bursts
 * coalesce). When the connection drops it reconnects with capped exponential back-off, and after
 * every (re)connect it wakes all workers: notifications sent while nobody listened are lost, so a
 * catch-up claim finds what arrived in the gap. While not listening, `listening` is false and the
 * workers fall back to the short idle poll.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import { JOB_ARRIVALS_CHANNEL } from '../store/job-arrivals.notify.ts';
import { abortableDelay } from '../util/delay.ts';

export interface ArrivalListenerOptions {
  /** Opens a new, unconnected-to-pool client (one per attempt). */
  connect: () => Promise<pg.Client>;
  onArrival: (destinationId: string) => void;
  /** Called after LISTEN is active on a fresh connection: wake everyone to catch up. */
  onListening: () => void;
  log: Logger;
  backoff?: { minMs: number; maxMs: number };
}

export class ArrivalListener {
  readonly #stop = new AbortController();
  #client: pg.Client | undefined;
  #running: Promise<void> | undefined;
  #listening = false;

  constructor(private readonly options: ArrivalListenerOptions) {}

  get listening(): boolean {
    return this.#listening;
  }

  start(): void {
    this.#running ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#client?.end().catch(() => undefined);
    await this.#running;
  }

  async #run(): Promise<void> {
    const { minMs, maxMs } = this.options.backoff ?? { minMs: 100, maxMs: 5000 };
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      const closed = await this.#listenOnce().then(
        (done) => { failures = 0; return done; },
        (error: unknown) => { this.options.log.warn({ err: error }, 'job arrival listener could not connect; retrying'); return undefined; },
      );
      if (closed) await closed;
      this.#listening = false;
      if (this.#stop.signal.aborted) break;
      failures += 1;
      await abortableDelay(Math.min(maxMs, minMs * 2 ** (failures - 1)), this.#stop.signal);
    }
  }

  /** Connects and LISTENs; resolves to a promise that settles when the connection ends. */
  async #listenOnce(): Promise<Promise<void>> {
    const client = await this.options.connect();
    this.#client = client;
    const ended = new Promise<void>((resolve) => {
      client.once('end', resolve);
      client.on('error', (err) => {
        this.options.log.warn({ err }, 'job arrival listener connection lost; reconnecting');
        resolve();
      });
    });
    client.on('notification', (message) => {
      if (message.channel === JOB_ARRIVALS_CHANNEL && message.payload) this.options.onArrival(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${JOB_ARRIVALS_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.#stop.signal.aborted) await client.end().catch(() => undefined);
    this.#listening = true;
    this.options.onListening();
    return ended.then(() => void client.end().catch(() => undefined));
  }
}
