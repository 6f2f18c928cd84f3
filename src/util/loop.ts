/**
 * A background loop: runs `tick` repeatedly, sleeping the delay each tick asks for, backing off
 * after errors, and remembering its last run and last error for health output. `stop()` aborts the
 * current sleep and resolves once the running tick has returned, so shutdown never leaves timers.
 */
import type { Logger } from 'pino';
import { abortableDelay } from './delay.ts';

export interface LoopStatus {
  readonly name: string;
  readonly running: boolean;
  readonly lastRunAt: Date | null;
  readonly lastError: string | null;
  readonly consecutiveErrors: number;
}

export class Loop {
  #stopController = new AbortController();
  #done: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  /**
   * A wake that came while a tick was running: what the tick read may already be stale (jobs
   * arrived, an upload was recorded after the tick looked), so the next tick runs without sleeping.
   * Dropping it left the loop asleep until its next poll, 30 s for a worker woken by arrivals.
   */
  #wokenDuringTick = false;
  #lastRunAt: Date | null = null;
  #lastError: string | null = null;
  #consecutiveErrors = 0;

  constructor(
    readonly name: string,
    /** Does one round of work; returns how long to sleep before the next (ms). */
    private readonly tick: (signal: AbortSignal) => Promise<number>,
    private readonly log: Logger,
    private readonly errorBackoff = { minMs: 500, maxMs: 30_000 },
  ) {}

  start(): void {
    if (this.#done) return;
    this.#done = this.#run();
  }

  /** Cuts the current sleep short (e.g. new work arrived), or the next one if a tick is running. */
  wake(): void {
    if (this.#wake) this.#wake();
    else this.#wokenDuringTick = true;
  }

  async stop(): Promise<void> {
    this.#stopController.abort();
    this.#wake?.();
    await this.#done;
  }

  get stopped(): boolean {
    return this.#stopController.signal.aborted;
  }

  status(): LoopStatus {
    return {
      name: this.name,
      running: this.#done !== undefined && !this.stopped,
      lastRunAt: this.#lastRunAt,
      lastError: this.#lastError,
      consecutiveErrors: this.#consecutiveErrors,
    };
  }

  async #run(): Promise<void> {
    const signal = this.#stopController.signal;
    while (!signal.aborted) {
      let sleepMs: number;
      this.#wokenDuringTick = false;
      try {
        sleepMs = await this.tick(signal);
        this.#lastRunAt = new Date();
        this.#consecutiveErrors = 0;
      } catch (error) {
        if (signal.aborted) break;
        this.#consecutiveErrors += 1;
        this.#lastError = `${new Date().toISOString()} ${(error as Error).message}`;
        sleepMs = Math.min(this.errorBackoff.maxMs, this.errorBackoff.minMs * 2 ** (this.#consecutiveErrors - 1));
        this.log.error({ err: error, loop: this.name, retryInMs: sleepMs }, `${this.name} failed; retrying`);
      }
      if (sleepMs > 0 && !signal.aborted && !this.#wokenDuringTick) {
        const wakeController = new AbortController();
        this.#wake = () => wakeController.abort();
        await abortableDelay(sleepMs, AbortSignal.any([signal, wakeController.signal]));
        this.#wake = undefined;
      }
    }
  }
}
