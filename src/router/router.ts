/**
 * The router: one worker per active destination, one poll loop, one heartbeat, one sweeper.
 * `stop()` is the graceful shutdown: stop claiming, let in-flight uploads finish for up to the
 * grace period, then abort their manager calls (they are recorded as retries of the same upload)
 * and wait for every loop to return.
 */
import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { Logger } from 'pino';
import { heartbeat } from '../store/uploads.repository.ts';
import type { Database } from '../db/schema.ts';
import { toError } from '../manager/errors.ts';
import { Loop, type LoopStatus } from '../util/loop.ts';
import { abortableDelay } from '../util/delay.ts';
import { ArrivalListener } from './arrival-listener.ts';
import { DestinationWorker } from './destination-worker.ts';
import { pollDueImports } from './poller.ts';
import { abortWaitingJobs, recoverExpiredUploads, sweepRetention } from './sweeper.ts';
import type { ActiveDestination, RouterContext } from './types.ts';

/** 8 MiB: a few full webhook batches, far below the memory of the payloads they came from. */
export const DEFAULT_STAGING_MEMORY_BYTES = 8 * 1024 * 1024;

export interface RouterOptions {
  db: Kysely<Database>;
  log: Logger;
  workerId: string;
  stagingDir: string;
  /** See RouterContext; default {@link DEFAULT_STAGING_MEMORY_BYTES}. */
  stagingMemoryBytes?: number;
  leaseMs: number;
  heartbeatMs: number;
  idlePollMs: number;
  sweepIntervalMs: number;
  shutdownGraceMs: number;
  retentionMaxAgeMs: number;
  retentionBatchSize: number;
  /**
   * Wake-ups on job arrival (LISTEN/NOTIFY). When set, an idle worker sleeps `safetyPollMs` while
   * the listener is connected (and `idlePollMs` while it is not); unset, it polls every `idlePollMs`.
   */
  arrivals?: { connect: () => Promise<pg.Client>; safetyPollMs: number };
  /** Destinations to serve. */
  destinations: readonly ActiveDestination[];
  /** Enabled destinations whose config is broken: their waiting jobs are aborted with `error`. */
  broken?: ReadonlyArray<{ id: string; error: string }>;
}

export class Router {
  readonly #hardStop = new AbortController();
  readonly #ctx: RouterContext;
  readonly #workers: DestinationWorker[];
  readonly #loops: Loop[];
  readonly #arrivals: ArrivalListener | undefined;
  #started = false;

  constructor(private readonly options: RouterOptions) {
    this.#ctx = {
      db: options.db,
      log: options.log,
      workerId: options.workerId,
      leaseMs: options.leaseMs,
      stagingDir: options.stagingDir,
      stagingMemoryBytes: options.stagingMemoryBytes ?? DEFAULT_STAGING_MEMORY_BYTES,
      hardStop: this.#hardStop.signal,
    };
    const arrivals = options.arrivals;
    this.#arrivals = arrivals && new ArrivalListener({
      connect: arrivals.connect,
      onArrival: (destinationId) => this.nudge(destinationId),
      onListening: () => { for (const worker of this.#workers) worker.loop.wake(); },
      log: options.log,
    });
    const idleSleepMs = () => (arrivals && this.#arrivals?.listening ? arrivals.safetyPollMs : options.idlePollMs);
    this.#workers = options.destinations.map((d) => new DestinationWorker(this.#ctx, d, idleSleepMs, options.idlePollMs));
    const pollable = new Map(options.destinations.filter((d) => !d.manager.fireAndForget).map((d) => [d.id, d]));
    const pollIdleMs = Math.min(1000, ...options.destinations.map((d) => d.tuning.pollIntervalMs));
    this.#loops = [
      new Loop('poller', async () => ((await pollDueImports(this.#ctx, pollable)) > 0 ? 0 : pollIdleMs), options.log),
      new Loop('heartbeat', () => this.#heartbeat(), options.log),
      new Loop('sweeper', (signal) => this.#sweep(signal), options.log),
    ];
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const worker of this.#workers) worker.start();
    for (const loop of this.#loops) loop.start();
    if (this.#workers.length > 0) this.#arrivals?.start();
    this.options.log.info(
      { workerId: this.options.workerId, destinations: this.#workers.map((w) => w.destination.id) },
      'router started',
    );
  }

  /** Health of every loop, for `destinations` output and the API. */
  status(): LoopStatus[] {
    return [...this.#workers.map((w) => w.loop.status()), ...this.#loops.map((l) => l.status())];
  }

  /** Wakes the worker of a destination (new jobs were enqueued in this process). */
  nudge(destinationId: string): void {
    this.#workers.find((w) => w.destination.id === destinationId)?.loop.wake();
  }

  async stop(): Promise<void> {
    const log = this.options.log;
    const heartbeatLoop = this.#loops.find((l) => l.name === 'heartbeat');
    // Stop taking new work at once; the heartbeat must outlive the uploads it keeps leased.
    const others = Promise.all(this.#loops.filter((l) => l !== heartbeatLoop).map((l) => l.stop()));
    const drained = Promise.all(this.#workers.map((w) => w.drain()));
    const graceOver = new AbortController();
    const grace = abortableDelay(this.options.shutdownGraceMs, graceOver.signal).then(() => 'grace-over' as const);
    const first = await Promise.race([drained.then(() => 'drained' as const), grace]);
    if (first === 'grace-over') {
      log.warn({ graceMs: this.options.shutdownGraceMs }, 'grace period over: aborting in-flight uploads; they will be retried');
      this.#hardStop.abort(new Error('batch-router is shutting down'));
    }
    await drained;
    graceOver.abort();
    await this.#arrivals?.stop();
    await heartbeatLoop?.stop();
    await others;
    log.info('router stopped');
  }

  async #heartbeat(): Promise<number> {
    const lease = { owner: this.options.workerId, ms: this.options.leaseMs };
    // One statement per destination with uploads in flight: each routes to that destination's shard.
    for (const worker of this.#workers) {
      const owned = worker.inFlightUploadIds;
      if (owned.length === 0) continue;
      const held = await heartbeat(this.options.db, owned, lease, worker.destination.id);
      for (const id of owned) if (!held.has(id)) worker.leaseLost(id);
    }
    return this.options.heartbeatMs;
  }

  async #sweep(signal: AbortSignal): Promise<number> {
    for (const destination of this.options.destinations) {
      if (signal.aborted) break;
      await recoverExpiredUploads(this.#ctx, destination.id, destination.tuning);
    }
    for (const broken of this.options.broken ?? []) {
      const aborted = await abortWaitingJobs(this.#ctx, broken.id, broken.error);
      if (aborted > 0) this.options.log.warn({ destinationId: broken.id, aborted }, 'aborted jobs of a misconfigured destination');
    }
    await sweepRetention(this.#ctx, {
      maxAgeMs: this.options.retentionMaxAgeMs,
      batchSize: this.options.retentionBatchSize,
      signal,
    }).catch((error) => this.options.log.error({ err: toError(error) }, 'retention sweep failed'));
    return this.options.sweepIntervalMs;
  }
}
