/**
 * Drives one destination: claims its next upload when a full batch is ready or the oldest ready
 * job has waited `uploadIntervalMs`, and runs uploads on its own p-queue so a slow vendor only
 * ever occupies its own slots, never another destination's. An upload that ends all succeeded
 * claims the next one in the round trip that records it, and that one runs in the same slot: at
 * small batch sizes the claims no longer queue behind one another in the loop.
 */
import PQueue from 'p-queue';
import { toError } from '../manager/errors.ts';
import { Loop } from '../util/loop.ts';
import { claimNextUpload, recordAndClaimNext, type ClaimResult } from './claim.ts';
import { runUpload, type ClaimedUpload, type RecordAndClaimNext } from './upload-runner.ts';
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
    this.#inFlight.set(claim.uploadId, new AbortController());
    void this.#queue
      .add(() => this.#runChain(claim))
      .finally(() => this.loop.wake());
  }

  /**
   * Runs an upload and, while each one ends all succeeded with the next claimed in the same
   * round trip (claim.ts, recordAndClaimNext), the uploads that follow it in the same slot.
   */
  async #runChain(first: ClaimedUpload): Promise<void> {
    let claim: ClaimedUpload | undefined = first;
    while (claim !== undefined) {
      const { uploadId } = claim;
      let next: ClaimResult | undefined;
      try {
        next = await runUpload(this.ctx, this.destination, claim, this.#inFlight.get(uploadId)!.signal, this.#recordAndClaimNext);
      } catch (error) {
        // Left executing: lease recovery will put the upload back after its lease expires.
        this.ctx.log.error({ err: toError(error), uploadId, destinationId: this.destination.id }, 'upload crashed');
      } finally {
        this.#inFlight.delete(uploadId);
      }
      claim = next?.kind === 'claimed' ? next : undefined;
      if (claim !== undefined) this.#inFlight.set(claim.uploadId, new AbortController());
    }
  }

  /** Asked when the upload ends: a worker that is stopping starts no new upload. */
  readonly #recordAndClaimNext: RecordAndClaimNext = (upload) =>
    this.loop.stopped || this.ctx.hardStop.aborted ? undefined : recordAndClaimNext(this.ctx, this.destination, upload);
}

function onePendingDone(queue: PQueue): Promise<void> {
  return new Promise((resolve) => queue.once('next', () => resolve()));
}
