/**
 * Drives one destination: claims its next upload when a full batch is ready or the oldest ready
 * job has waited `uploadIntervalMs`, and runs uploads on its own p-queue so a slow vendor only
 * ever occupies its own slots, never another destination's.
 */
import PQueue from 'p-queue';
import { toError } from '../manager/errors.ts';
import { Loop } from '../util/loop.ts';
import { claimNextUpload } from './claim.ts';
import { runUpload, type ClaimedUpload } from './upload-runner.ts';
import type { ActiveDestination, RouterContext } from './types.ts';

export class DestinationWorker {
  readonly loop: Loop;
  readonly #queue: PQueue;
  /** Uploads this process is sending, with the controller that fires if their lease is lost. */
  readonly #inFlight = new Map<string, AbortController>();

  constructor(
    private readonly ctx: RouterContext,
    readonly destination: ActiveDestination,
    /** How long an idle worker sleeps: short while polling, long while arrivals wake it. */
    idleSleepMs: () => number,
    /** Short poll while at capacity: an import finishing elsewhere frees a slot without a wake. */
    private readonly capacityPollMs: number,
  ) {
    this.#queue = new PQueue({ concurrency: destination.tuning.uploadConcurrency });
    this.loop = new Loop(`router:${destination.id}`, () => this.#tick(idleSleepMs), ctx.log);
  }

  get inFlightUploadIds(): string[] {
    return [...this.#inFlight.keys()];
  }

  /** Called by the heartbeat when the database no longer shows this worker owning an upload. */
  leaseLost(uploadId: string): void {
    this.#inFlight.get(uploadId)?.abort(new Error('lease lost: another worker took over this upload'));
  }

  start(): void {
    this.loop.start();
  }

  /** Stops claiming; resolves when every upload already started has been recorded. */
  async drain(): Promise<void> {
    await this.loop.stop();
    await this.#queue.onIdle();
  }

  async #tick(idleSleepMs: () => number): Promise<number> {
    if (this.#queue.size + this.#queue.pending >= this.destination.tuning.uploadConcurrency) {
      await this.#queue.onSizeLessThan(1);
      if (this.#queue.pending >= this.destination.tuning.uploadConcurrency) await onePendingDone(this.#queue);
      return 0;
    }
    const claim = await claimNextUpload(this.ctx, this.destination);
    if (claim.kind === 'claimed') {
      this.#schedule(claim);
      return 0;
    }
    if (claim.kind === 'at-capacity') return this.capacityPollMs;
    const idleMs = idleSleepMs();
    return Math.max(1, Math.min(idleMs, claim.wakeInMs ?? idleMs));
  }

  #schedule(claim: ClaimedUpload): void {
    const leaseController = new AbortController();
    this.#inFlight.set(claim.uploadId, leaseController);
    void this.#queue
      .add(() => runUpload(this.ctx, this.destination, claim, leaseController.signal))
      .catch((error: unknown) => {
        // Left executing: lease recovery will put the upload back after its lease expires.
        this.ctx.log.error({ err: toError(error), uploadId: claim.uploadId, destinationId: this.destination.id }, 'upload crashed');
      })
      .finally(() => {
        this.#inFlight.delete(claim.uploadId);
        this.loop.wake();
      });
  }
}

function onePendingDone(queue: PQueue): Promise<void> {
  return new Promise((resolve) => queue.once('next', () => resolve()));
}
