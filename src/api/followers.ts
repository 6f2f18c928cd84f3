/**
 * One shared reader per followed resource (a submission, an upload). Every SSE stream of the same
 * resource subscribes to the same reader, which re-reads the database every `pollMs` and fans
 * each changed snapshot out to its subscribers: a thousand streams on one submission cost one
 * query loop, not a thousand. The reader starts with its first subscriber and stops with its last.
 *
 * The database stays the only source of truth (every process sees the same state); what is shared
 * is only this process's reading of it.
 */
import type { FastifyBaseLogger } from 'fastify';
import { abortableDelay } from '../util/delay.ts';

export interface Snapshot {
  /** Sent as the event's data. */
  data: unknown;
  /** True once the resource is final: this snapshot is the terminal event. */
  done: boolean;
}

/** A read failing this many times in a row ends the reader (subscribers end; clients reconnect). */
const MAX_FAILURES = 5;

class Followed {
  subscribers = 0;
  /** Bumped whenever `latest` changes, so each subscriber knows what it has not seen. */
  version = 0;
  latest: Snapshot | undefined;
  latestText: string | undefined;
  error: Error | undefined;
  finished = false;
  readonly stop = new AbortController();
  readonly #waiters = new Set<() => void>();

  notify(): void {
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }

  /** Resolves at the next notify, or when `signal` aborts. */
  changed(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const wake = () => {
        signal.removeEventListener('abort', wake);
        this.#waiters.delete(wake);
        resolve();
      };
      this.#waiters.add(wake);
      signal.addEventListener('abort', wake, { once: true });
    });
  }
}

/** One subscriber's view of a shared reader. */
export class Subscription {
  #seen = 0;
  #closed = false;

  constructor(private readonly followed: Followed, private readonly onClose: () => void) {}

  /** The next snapshot this subscriber has not seen; undefined once the reader ended or `signal` aborted. Throws the reader's error. */
  async next(signal: AbortSignal): Promise<Snapshot | undefined> {
    const f = this.followed;
    for (;;) {
      if (f.version > this.#seen) {
        this.#seen = f.version;
        return f.latest;
      }
      if (f.error) throw f.error;
      if (f.finished || signal.aborted) return undefined;
      await f.changed(signal);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onClose();
  }
}

export class Followers {
  readonly #followed = new Map<string, Followed>();
  /** Database reads made by all readers so far (exposed as a metric). */
  reads = 0;

  constructor(
    private readonly pollMs: number,
    private readonly log: Pick<FastifyBaseLogger, 'warn' | 'error'>,
    private readonly stopping: AbortSignal,
  ) {}

  /** Resources followed right now (one reader each). */
  get size(): number {
    return this.#followed.size;
  }

  /** Subscribes to `key`, starting its reader with `read` unless one already runs. Close the subscription when done. */
  follow(key: string, read: () => Promise<Snapshot>): Subscription {
    let f = this.#followed.get(key);
    if (!f || f.finished || f.stop.signal.aborted) {
      f = new Followed();
      this.#followed.set(key, f);
      void this.#run(key, f, read);
    }
    f.subscribers += 1;
    const followed = f;
    return new Subscription(followed, () => {
      followed.subscribers -= 1;
      if (followed.subscribers === 0) followed.stop.abort();
    });
  }

  async #run(key: string, f: Followed, read: () => Promise<Snapshot>): Promise<void> {
    const signal = AbortSignal.any([f.stop.signal, this.stopping]);
    let failures = 0;
    try {
      while (!signal.aborted) {
        try {
          const snapshot = await read();
          this.reads += 1;
          failures = 0;
          const text = JSON.stringify(snapshot.data);
          if (text !== f.latestText || snapshot.done) {
            f.latest = snapshot;
            f.latestText = text;
            f.version += 1;
            f.notify();
          }
          if (snapshot.done) return;
        } catch (error) {
          // Before any snapshot a failure is the subscriber's error response; later, a database
          // hiccup should not cut the streams, a lasting outage ends them.
          if (f.version === 0 || ++failures >= MAX_FAILURES) {
            f.error = error instanceof Error ? error : new Error(String(error));
            if (f.version > 0) this.log.error({ err: error, key }, 'shared SSE reader ended by repeated read failures');
            return;
          }
          this.log.warn({ err: error, key }, 'shared SSE reader: read failed; retrying at the next poll');
        }
        await abortableDelay(this.pollMs, signal);
      }
    } finally {
      f.finished = true;
      if (this.#followed.get(key) === f) this.#followed.delete(key);
      f.notify();
    }
  }
}
