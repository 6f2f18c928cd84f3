/**
 * The manager contract: what a destination type implements so the router can deliver to it.
 *
 * A manager lives in `managers/<name>/index.ts` and default-exports `defineManager({...})`.
 * The router owns everything generic (claiming, staging, retries, leases, polling cadence,
 * persistence); a manager only knows its vendor. Every call receives a {@link CallContext} with an
 * AbortSignal and a deadline, and reports per-job results as data ({@link JobOutcome}), never by
 * mutating jobs.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../db/schema.ts';
import type { ConfigSchema } from './config-schema.ts';
import type { ErrorCode } from './error-codes.ts';

/** Any JSON value, as stored in PostgreSQL `jsonb`. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Hard limits of a destination type, set by the vendor. Tunables can lower but never raise them. */
export interface ManagerLimits {
  /** Most jobs one upload may carry (e.g. Klaviyo 10,000 profiles per import job). */
  maxEventsPerUpload?: number;
  /** Most staged bytes (sum of transformed rows) one upload may carry. */
  maxBytesPerUpload?: number;
  /**
   * Most imports of one destination that may be open at once, across all processes
   * (e.g. Marketo allows 10 queued bulk imports per account). Uploads in flight count too.
   */
  maxConcurrentImports?: number;
  /** Largest single transformed row in bytes; a bigger one aborts its job. */
  maxRowBytes?: number;
}

/**
 * Router tunables a manager may default differently from the framework. Each can be set by
 * `BATCH_ROUTER_<MANAGER>_<KEY>`, `BATCH_ROUTER_<KEY>` or a destination's `tuning` entry.
 */
export interface TuningDefaults {
  maxEventsPerUpload?: number;
  maxBytesPerUpload?: number;
  uploadIntervalMs?: number;
  uploadConcurrency?: number;
  uploadTimeoutMs?: number;
  pollIntervalMs?: number;
  maxImportDurationMs?: number;
  maxAttempts?: number;
  retryWindowMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/** Passed to every manager call. `Session` is what the manager's `createSession` returns. */
export interface CallContext<Config, Session = unknown> {
  /** The destination's validated config (secrets already substituted from the environment). */
  readonly config: Config;
  readonly destinationId: string;
  /** Fires on shutdown (after the grace period) or when `deadline` passes. Pass it to fetch/SFTP calls. */
  readonly signal: AbortSignal;
  /** Epoch milliseconds after which the router stops waiting for this call. */
  readonly deadline: number;
  /** Child logger bound to destination, upload and import ids. Secrets are redacted. */
  readonly log: Logger;
  /**
   * State shared by all calls of one destination in this process (token caches, rate limiters,
   * connection pools). Created by {@link ManagerDefinition.createSession} before the first call
   * and always passed when the manager has one; `undefined` for a manager without it.
   */
  readonly session: Session;
}

/** One job as the manager sees it at transform time. */
export interface TransformInput {
  readonly jobId: string;
  /** The event as it was enqueued. */
  readonly event: JsonObject;
  /** How many times this job has been claimed, this claim included. */
  readonly attempt: number;
}

/** One staged row read back from the upload's staging file. */
export interface StagedRow<Row> {
  readonly jobId: string;
  readonly row: Row;
  /** The row as JSON text, exactly as staged: send it on without re-serialising. */
  readonly json: string;
  /** Length of the row's JSON in bytes: useful for splitting files at a size limit. */
  readonly bytes: number;
}

/** The batch handed to `upload`: job ids plus a stream of their transformed rows. */
export interface UploadBatch<Row> {
  /**
   * Router-assigned id of this upload. A whole-upload retry (thrown `RetryableError`, expired
   * lease after a crash, retryable import failure) re-runs the same upload with the same id and
   * jobs, so deriving file names or idempotency keys from it makes retries overwrite, not duplicate.
   */
  readonly uploadId: string;
  /** 1 on the first try of this upload, 2 on its first retry, and so on. */
  readonly uploadAttempt: number;
  /**
   * Epoch ms when the upload was first created, the same on every retry (like `uploadId`), so a
   * time derived from it (a file name's timestamp) does not change between attempts.
   */
  readonly createdAt: number;
  readonly destinationId: string;
  /** Ids of every job in the batch, in staging order. */
  readonly jobIds: readonly string[];
  /** Sum of staged row bytes. */
  readonly bytes: number;
  /** Streams the transformed rows from the staging file, in `jobIds` order. Can be called more than once. */
  rows(): AsyncIterable<StagedRow<Row>>;
}

/**
 * What became of one job. Every job of a batch must be accounted for exactly once, either in
 * `outcomes` or in one import's `jobs`; a job left out is retried with reason
 * "manager did not report an outcome".
 */
export type JobOutcome =
  /** Delivered. `warning` is kept on the job (e.g. Marketo row warnings). */
  | { readonly jobId: string; readonly kind: 'succeeded'; readonly warning?: string }
  /** Transient failure: retried with backoff (or after `retryAfterMs`), spending an attempt. */
  | ({ readonly jobId: string; readonly kind: 'retry'; readonly reason: string; readonly retryAfterMs?: number } & OutcomeCodes)
  /** Not the job's fault and not a real attempt (vendor queue full): back to waiting, attempt refunded. */
  | ({ readonly jobId: string; readonly kind: 'snooze'; readonly reason: string; readonly retryAfterMs: number } & OutcomeCodes)
  /** Permanent: will never be delivered. `reason` is shown to people as is. */
  | ({ readonly jobId: string; readonly kind: 'aborted'; readonly reason: string } & OutcomeCodes);

/** Machine-readable codes carried next to a failure's human `reason`. */
export interface OutcomeCodes {
  /** Stable code (see `error-codes.ts`); the router fills in a default from the outcome kind when absent. */
  readonly code?: ErrorCode;
  /** The vendor's own code for this failure, verbatim (Marketo `1004`, Salesforce `DUPLICATE_VALUE`). */
  readonly vendorCode?: string;
}

/** A vendor-side import created by an upload, to be polled until done. */
export interface ImportHandle {
  /** Whatever the manager needs to poll it later (vendor job id, file names). Persisted as JSON. */
  readonly handle: JsonObject;
  /**
   * The jobs carried by this import. `correlationKey` is persisted per job so that
   * `getUploadStats` can map vendor result rows back to jobs after a restart.
   */
  readonly jobs: ReadonlyArray<{ readonly jobId: string; readonly correlationKey?: string }>;
}

/** Result of `upload`. */
export interface UploadResult {
  /** Jobs whose fate is known now (fire-and-forget success, rejected rows, transient errors). */
  readonly outcomes: readonly JobOutcome[];
  /** Vendor imports to poll; their jobs move to `importing`. */
  readonly imports?: readonly ImportHandle[];
}

/** An open import as handed to `poll` and `getUploadStats`. */
export interface OpenImport {
  readonly importId: string;
  readonly uploadId: string;
  readonly handle: JsonObject;
  /** Epoch ms when the import was created. */
  readonly startedAt: number;
  /** How many polls happened before this one. */
  readonly pollCount: number;
}

/** Result of `poll`: a tagged union, never a bag of booleans. */
export type PollResult =
  /** Still running. `progress` is 0–100 when the vendor reports it. */
  | { readonly status: 'in_progress'; readonly progress?: number; readonly retryAfterMs?: number }
  /**
   * Finished. `hasRecordFailures` (or warnings) means `getUploadStats` must be called for
   * per-job outcomes; otherwise every job of the import succeeded.
   */
  | { readonly status: 'completed'; readonly hasRecordFailures?: boolean; readonly hasWarnings?: boolean }
  /** The whole import failed. `retryable` decides between retry and abort for all its jobs. */
  | ({ readonly status: 'failed'; readonly retryable: boolean; readonly reason: string } & OutcomeCodes);

/** A job of a finished import, with the correlation key persisted at upload time. */
export interface ImportedJob {
  readonly jobId: string;
  readonly correlationKey: string | null;
}

/**
 * Shared services handed to `createSession` by the router. Every field is optional: a manager
 * driven outside the router (the conformance harness, a one-off script) gets none and must work
 * without them, if less well.
 */
export interface SessionServices {
  /**
   * The router's database: the coordination point of every process sharing it. For state a vendor
   * counts across processes (Klaviyo's per-account rate limit), in tables of the manager's own
   * (its migration under migrations/). Never for the router's tables: those belong to the router.
   */
  readonly db?: Kysely<Database>;
}

/**
 * The definition a manager directory default-exports. `Config` is what its `configSchema` parses
 * to, `Row` what `transform` returns, `Session` what `createSession` returns; each call's context
 * carries that session typed, so a manager never casts it.
 */
export interface ManagerDefinition<Config = unknown, Row = unknown, Session = unknown> {
  /** Unique name, equal to the directory name (`marketo-bulk-upload`). Used in env var names. */
  readonly name: string;
  /** One sentence for `batch-router managers`. */
  readonly description: string;
  /** Validates a destination's `config` entry; errors name the field and the fix. */
  readonly configSchema: ConfigSchema<Config>;
  readonly limits?: ManagerLimits;
  readonly tuningDefaults?: TuningDefaults;
  /**
   * Per-destination state for this process (token cache, connections). Closed by `closeSession`.
   * `services` carries what the router shares with managers; see {@link SessionServices}.
   */
  createSession?(config: Config, destinationId: string, log: Logger, services?: SessionServices): Session;
  closeSession?(session: Session): Promise<void>;
  /**
   * One event → one row. Pure: no I/O, same input same output. Throw `PermanentError` for a bad
   * event: only that job is aborted, with the error's message as reason.
   *
   * Omit it when the row is the event unchanged: the router then stages each event's stored JSON
   * text as is and never parses it, the cheapest path there is (the webhook manager takes it).
   * Ingest guarantees every stored event is a JSON object.
   */
  transform?(input: TransformInput, config: Config): Row;
  /** Sends the staged rows. Throws typed errors (see errors.ts) for whole-batch failures. */
  upload(batch: UploadBatch<Row>, ctx: CallContext<Config, Session>): Promise<UploadResult>;
  /** Checks an open import. Absent for fire-and-forget managers (they never return imports). */
  poll?(open: OpenImport, ctx: CallContext<Config, Session>): Promise<PollResult>;
  /**
   * Per-job outcomes of a completed import with record failures or warnings. Must return one
   * outcome per job in `jobs`; jobs not mentioned are taken as succeeded.
   */
  getUploadStats?(open: OpenImport, jobs: readonly ImportedJob[], ctx: CallContext<Config, Session>): Promise<readonly JobOutcome[]>;
  /** Best-effort vendor-side cancellation of an open import (e.g. Salesforce job → Aborted). */
  cancelImport?(open: OpenImport, ctx: CallContext<Config, Session>): Promise<void>;
}

/** A definition after `defineManager` filled in defaults; what the router works with. */
export type Manager<Config = unknown, Row = unknown, Session = unknown> = Required<
  Pick<ManagerDefinition<Config, Row, Session>, 'poll' | 'getUploadStats' | 'transform'>
> &
  ManagerDefinition<Config, Row, Session> & {
    readonly limits: ManagerLimits;
    readonly tuningDefaults: TuningDefaults;
    /**
     * True when the definition has no `poll`: every upload settles all its jobs at once and never
     * returns imports. `defineManager` fills in `poll`, so this is the only way to tell afterwards.
     */
    readonly fireAndForget: boolean;
    /**
     * True when the definition has no `transform`: rows are the events themselves, staged from
     * their stored JSON text. `transform` is filled in (it returns the event) for callers that
     * want a row object anyway.
     */
    readonly passesEventsThrough: boolean;
  };
