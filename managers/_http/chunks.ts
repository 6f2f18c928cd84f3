/**
 * One upload, several vendor requests: splitting staged rows into chunks that respect a vendor's
 * per-request caps, and submitting them one after another so that a failure of chunk k never
 * re-sends chunks the vendor already accepted. Shared by managers whose vendor takes JSON arrays.
 */
import type { ImportHandle, JobOutcome, StagedRow, UploadBatch, UploadResult } from '../../src/manager/contract.ts';
import { RetryableError, classify } from '../../src/manager/errors.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';

export interface ChunkLimits {
  /** Most rows per request. */
  readonly maxItems: number;
  /**
   * Most request bytes. Each row costs its JSON length plus `separatorBytes`; `envelopeBytes`
   * is the fixed wrapper around the array.
   */
  readonly maxBytes: number;
  readonly envelopeBytes?: number;
  readonly separatorBytes?: number;
}

/**
 * Streams `rows` as arrays within `limits`. A row too big for any request on its own still gets a
 * chunk of its own: the caller has to check per-row limits first (the vendor would reject it).
 */
export async function* chunkRows<Row>(rows: AsyncIterable<StagedRow<Row>>, limits: ChunkLimits): AsyncGenerator<StagedRow<Row>[]> {
  const envelope = limits.envelopeBytes ?? 0;
  const separator = limits.separatorBytes ?? 1;
  let chunk: StagedRow<Row>[] = [];
  let bytes = envelope;
  for await (const row of rows) {
    const cost = row.bytes + separator;
    if (chunk.length > 0 && (chunk.length >= limits.maxItems || bytes + cost > limits.maxBytes)) {
      yield chunk;
      chunk = [];
      bytes = envelope;
    }
    chunk.push(row);
    bytes += cost;
  }
  if (chunk.length > 0) yield chunk;
}

/** What became of one chunk: outcomes known now and/or vendor imports to poll. */
export interface ChunkResult {
  readonly outcomes: readonly JobOutcome[];
  readonly imports: readonly ImportHandle[];
}

export interface SubmitOptions {
  /**
   * The vendor deduplicates requests by an idempotency key derived from the upload id and the
   * chunk's jobs (async-http), so a retryable failure after some chunks were accepted retries the
   * WHOLE upload (rethrown) instead of retrying the rest job by job. A retryable failure (a
   * timeout, a 5xx) leaves it unknown whether the vendor executed the chunk; only a re-send under
   * the same upload id carries the same key, which the vendor answers from its key store, while
   * jobs retried one by one land in a new upload, under new keys, and may be executed twice. The
   * chunks already accepted are re-sent too and replayed by the vendor, not re-executed.
   * A throttled request (`rate_limited`, HTTP 429) was refused, not executed, so it still retries
   * only the rest, after the vendor's Retry-After, keeping the accepted chunks' imports.
   * Off for vendors without idempotency keys, where re-sending accepted chunks would duplicate them.
   */
  readonly retryUploadAsUnit?: boolean;
}

/**
 * Submits every chunk of `batch` with `submit`, accounting for every job exactly once.
 *
 * A chunk that throws is handled by what the failure means:
 * - permanent (`PermanentError`): only that chunk's jobs are aborted; later chunks still go;
 * - retryable, snooze or config before anything else happened: rethrown, so the router retries
 *   (or aborts) the upload as a unit, keeping its id and honouring `retryAfterMs`;
 * - retryable but not throttled after some chunk was accounted for, with `retryUploadAsUnit`:
 *   rethrown as well (see `SubmitOptions`);
 * - otherwise, after some chunk was accounted for: that chunk and every later one get the verdict
 *   as outcomes and nothing more is sent (the vendor asked us to back off, or every request
 *   would fail alike), while the chunks already accepted keep their imports.
 */
export async function submitInChunks<Row>(
  batch: UploadBatch<Row>,
  chunks: AsyncIterable<StagedRow<Row>[]>,
  signal: AbortSignal,
  submit: (chunk: StagedRow<Row>[], index: number) => Promise<ChunkResult>,
  options: SubmitOptions = {},
): Promise<UploadResult> {
  const outcomes: JobOutcome[] = [];
  const imports: ImportHandle[] = [];
  const accounted = new Set<string>();
  const record = (result: ChunkResult) => {
    outcomes.push(...result.outcomes);
    imports.push(...result.imports);
    for (const o of result.outcomes) accounted.add(o.jobId);
    for (const i of result.imports) for (const j of i.jobs) accounted.add(j.jobId);
  };
  /** Every job not yet accounted for gets `verdict`: the chunks we are not going to send. */
  const settleRest = (verdict: (jobId: string) => JobOutcome): UploadResult => {
    for (const jobId of batch.jobIds) if (!accounted.has(jobId)) outcomes.push(verdict(jobId));
    return { outcomes, imports };
  };

  let index = 0;
  for await (const chunk of chunks) {
    if (signal.aborted) {
      const reason = 'upload cancelled (shutdown or call deadline) before this chunk was sent';
      if (accounted.size === 0) throw new RetryableError(reason);
      return settleRest((jobId) => ({ jobId, kind: 'retry', reason }));
    }
    try {
      record(await submit(chunk, index));
    } catch (error) {
      const failure = classify(error);
      if (failure.action !== 'abort' && accounted.size === 0) throw error;
      if (failure.action === 'retry' && options.retryUploadAsUnit && failure.code !== ERROR_CODES.rateLimited) throw error;
      if (failure.action === 'abort') {
        record({ outcomes: chunk.map(({ jobId }) => ({ jobId, kind: 'aborted', reason: failure.message })), imports: [] });
      } else if (failure.action === 'config') {
        return settleRest((jobId) => ({ jobId, kind: 'aborted', reason: failure.message }));
      } else if (failure.action === 'snooze') {
        return settleRest((jobId) => ({ jobId, kind: 'snooze', reason: failure.message, retryAfterMs: failure.retryAfterMs ?? 0 }));
      } else {
        const after = failure.retryAfterMs;
        return settleRest((jobId) => ({ jobId, kind: 'retry', reason: failure.message, ...(after !== undefined ? { retryAfterMs: after } : {}) }));
      }
    }
    index += 1;
  }
  return settleRest((jobId) => ({ jobId, kind: 'retry', reason: 'the manager sent no request for this job' }));
}
