/**
 * A fake of Salesforce's OAuth token endpoint and Bulk API 2.0 ingest jobs on a real HTTP server,
 * as strict as Salesforce. Jobs go Open → UploadComplete → InProgress → JobComplete (or Failed /
 * Aborted) when the test says so, or by themselves after some state checks.
 *
 * | What it enforces | Documentation ("Bulk API 2.0 and Bulk API Developer Guide" unless named) |
 * |---|---|
 * | `Authorization: Bearer <token>` on every API call; 401 `[{errorCode: INVALID_SESSION_ID}]` for a missing, unknown or expired token (expiry mid-import: `expireTokens()`) | REST API "Status Codes and Error Responses" |
 * | API version in the path, 41.0 up to the latest release; others 404 NOT_FOUND | "Create a Job": available in 41.0 and later |
 * | `Content-Type: application/json` on create and state changes, `text/csv` on the data PUT; else 415 | "Create a Job", "Upload Job Data" (Formats) |
 * | job definition: object, operation (insert/update/upsert/delete/hardDelete), externalIdFieldName for upsert only, contentType CSV, lineEnding LF/CRLF, columnDelimiter enum, assignmentRuleId (49.0+); else 400 INVALIDJOB | "Create a Job" |
 * | data PUT only while Open, state changes Open → UploadComplete, any unfinished → Aborted; else 400 INVALIDJOBSTATE | "Upload Job Data", "Close or Abort a Job" |
 * | at most 150 MB per job after base64 encoding (413) | "Upload Job Data" usage notes |
 * | CSV parsed with the job's columnDelimiter; data whose line ending differs from `lineEnding` fails the job | "Create a Job" (lineEnding), "Prepare CSV Files" |
 * | rows sharing an external id (upsert) or Id (update/delete) in one internal batch of 10,000 all fail DUPLICATE_VALUE | "Understanding Bulk API 2.0 Ingest"; Salesforce KB 000384876 |
 * | the org's API request allowance: 403 REQUEST_LIMIT_EXCEEDED "TotalRequests Limit exceeded." | "API Request Limits and Allocations" |
 * | the 24-hour record allowance: the job fails, the rest stays unprocessed | "Understanding Bulk API 2.0 Ingest", "Limits" (150,000,000 records) |
 * | result sets quoted, `sf__` columns, not in upload order, late, paged, misreported | see fake-results.ts |
 * | token endpoint errors `{error, error_description}`; client credentials refused on login/test hosts; JWT `aud` | see fake-token.ts |
 */
import type { KeyObject } from 'node:crypto';
import { OAuthVendorFake } from '../../../test/fakes/oauth-vendor.ts';
import type { ConformanceSetup } from '../../../test/conformance/suite.ts';
import type { Reply, RouteRequest } from '../../../test/fakes/vendor-server.ts';
import { acceptUpload, definitionProblem, processRows, sfError, TERMINAL, type FakeIngestJob, type IngestState, type ProcessOptions } from './fake-jobs.ts';
import { resultReply, type ResultBehaviour, type ResultSet } from './fake-results.ts';
import { tokenReply } from './fake-token.ts';

export type { FakeIngestJob, IngestState } from './fake-jobs.ts';

export interface SalesforceFakeOptions {
  clientId?: string;
  clientSecret?: string;
  /** JWT bearer flow: the user and the certificate's public key the assertion must verify against. */
  username?: string;
  publicKey?: KeyObject | string;
  /** The JWT `aud` the org accepts; default https://login.salesforce.com. */
  audience?: string;
  /** The fake plays login.salesforce.com: the client credentials flow is refused there. */
  sharedLoginHost?: boolean;
  /** Each state check moves a closed job one step; JobComplete after this many. Unset: only `complete*` calls finish jobs. */
  autoCompleteAfterPolls?: number;
  /** Decides each record's fate when it is processed: an `sf__Error` text fails it. */
  rowOutcome?: ProcessOptions['rowOutcome'];
  /** Reads of a finished job's result sets that miss their last row. */
  lateResultReads?: number;
  /** Serve result sets in pages of this many rows. */
  resultPageSize?: number;
  /** API requests the org may still make (token requests excluded). */
  apiRequestAllowance?: number;
  /** Records the org may still process in the rolling 24 hours. */
  recordAllowance?: number;
  /** Largest job data after base64 encoding; default 150 MB. */
  maxJobBase64Bytes?: number;
}

const LATEST_API_VERSION = 66;
const MAX_JOB_BASE64_BYTES = 150_000_000;
const base64Length = (bytes: number) => 4 * Math.ceil(bytes / 3);

export class SalesforceFake extends OAuthVendorFake {
  readonly jobs = new Map<string, FakeIngestJob>();
  #nextId = 1;
  #misreport: FakeIngestJob['misreport'];
  readonly #process: ProcessOptions;
  readonly #results: ResultBehaviour;
  #apiRequestsLeft: number;

  constructor(private readonly options: SalesforceFakeOptions = {}) {
    super(options.clientId ?? 'fake-consumer-key', options.clientSecret ?? 'fake-consumer-secret-9a1b');
    this.#process = { rowOutcome: options.rowOutcome, recordAllowance: { left: options.recordAllowance ?? Infinity } };
    this.#results = { lateReads: options.lateResultReads ?? 0, pageSize: options.resultPageSize };
    this.#apiRequestsLeft = options.apiRequestAllowance ?? Infinity;
    const tokenOptions = {
      clientId: this.clientId,
      clientSecret: this.clientSecret,
      username: options.username,
      publicKey: options.publicKey,
      audience: options.audience ?? 'https://login.salesforce.com',
      sharedLoginHost: options.sharedLoginHost ?? false,
      instanceUrl: () => this.url,
    };
    const route = (name: string, method: string, path: string, contentType: string | undefined, handle: (r: RouteRequest) => Reply) => ({
      name,
      method,
      pattern: new RegExp(`^/services/data/v(\\d+\\.\\d)/jobs/ingest${path}$`),
      handle: (r: RouteRequest) => this.#guard(r, contentType) ?? handle(r),
    });
    const results = (set: ResultSet) => route(set, 'GET', `/([^/]+)/${set}/?`, undefined, (r) => this.#withJob(r, (job) => this.#result(job, set, r)));
    this.server.route(
      { name: 'token', method: 'POST', pattern: /^\/services\/oauth2\/token$/, handle: (r) => tokenReply(r, tokenOptions, this.tokens) },
      route('create', 'POST', '/?', 'application/json', (r) => this.#create(r)),
      route('upload', 'PUT', '/([^/]+)/batches/?', 'text/csv', (r) => this.#withJob(r, (job) => this.#upload(job, r))),
      route('close', 'PATCH', '/([^/]+)/?', 'application/json', (r) => this.#withJob(r, (job) => this.#patch(job, r))),
      route('status', 'GET', '/([^/]+)/?', undefined, (r) => this.#withJob(r, (job) => this.#info(job, true))),
      results('failedResults'),
      results('unprocessedrecords'),
      results('successfulResults'),
    );
  }

  /** A destination config pointing at this fake (client credentials flow); `extra` overrides or adds fields. */
  config(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      loginUrl: this.url,
      clientId: this.clientId,
      clientSecret: this.clientSecret,
      object: 'Contact',
      operation: 'insert',
      fieldMapping: { email: 'Email', firstName: 'FirstName', lastName: 'LastName' },
      resultRereadDelayMs: 20,
      ...extra,
    };
  }

  override conformanceSetup(config: unknown): ConformanceSetup {
    return { ...super.conformanceSetup(config), misreport: async (mode) => this.misreport(mode) };
  }

  /** Jobs finished from now on report their results inconsistently (see fake-results.ts). */
  misreport(mode: 'undercount' | 'stray-row' | undefined): void {
    this.#misreport = mode;
  }

  /** Every closed, unfinished job processes all its records now. */
  completeAll(): void {
    for (const job of this.jobs.values()) if (job.state === 'UploadComplete' || job.state === 'InProgress') this.#run(job, job.rows.length, 'JobComplete');
  }

  /** Ends a job `Failed` after processing its first `processed` records; the rest stay unprocessed. */
  failJob(id: string, errorMessage: string, processed = 0): void {
    const job = this.jobs.get(id);
    if (!job) return;
    this.#run(job, processed, 'Failed');
    job.errorMessage = errorMessage;
  }

  /** Token, API version and content type, as Salesforce checks them before anything else. */
  #guard(request: RouteRequest, contentType: string | undefined): Reply | undefined {
    if (this.tokens.check(request.headers.authorization) !== 'valid') return sfError(401, 'INVALID_SESSION_ID', 'Session expired or invalid');
    const version = Number(/\/v(\d+\.\d)\//.exec(request.url.pathname)?.[1]);
    if (!(version >= 41 && version <= LATEST_API_VERSION)) return sfError(404, 'NOT_FOUND', 'The requested resource does not exist');
    if (contentType && !(request.headers['content-type'] ?? '').toLowerCase().startsWith(contentType)) {
      return sfError(415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Type must be ${contentType}`);
    }
    if (this.#apiRequestsLeft <= 0) return sfError(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.');
    this.#apiRequestsLeft -= 1;
    return undefined;
  }

  #create(request: RouteRequest): Reply {
    const definition = JSON.parse(request.body.toString('utf8') || '{}') as Record<string, unknown>;
    const apiVersion = /\/v(\d+\.\d)\//.exec(request.url.pathname)![1]!;
    const problem = definitionProblem(definition, Number(apiVersion));
    if (problem) return problem;
    const job: FakeIngestJob = {
      id: `7508c00000${String(this.#nextId++).padStart(8, '0')}`, apiVersion, definition, state: 'Open', header: [], rows: [], uploadBytes: 0,
      processed: 0, failed: [], errorMessage: '', stateChecks: 0, resultReads: new Map(),
    };
    this.jobs.set(job.id, job);
    return this.#info(job, false);
  }

  #withJob(request: RouteRequest, handle: (job: FakeIngestJob) => Reply): Reply {
    const job = this.jobs.get(request.params[1] ?? '');
    return job ? handle(job) : sfError(404, 'NOT_FOUND', 'The requested resource does not exist');
  }

  #upload(job: FakeIngestJob, request: RouteRequest): Reply {
    if (job.state !== 'Open') return sfError(400, 'INVALIDJOBSTATE', `Job is in state ${job.state}; data can only be uploaded while Open`);
    const limit = this.options.maxJobBase64Bytes ?? MAX_JOB_BASE64_BYTES;
    if (base64Length(job.uploadBytes + request.body.length) > limit) return sfError(413, 'REQUEST_ENTITY_TOO_LARGE', `Job data exceeds ${limit} bytes after base64 encoding`);
    acceptUpload(job, request.body);
    return { status: 201, text: '' };
  }

  #patch(job: FakeIngestJob, request: RouteRequest): Reply {
    const { state } = JSON.parse(request.body.toString('utf8') || '{}') as { state?: string };
    if (state === 'UploadComplete' && job.state === 'Open') job.state = 'UploadComplete';
    else if (state === 'Aborted' && !TERMINAL.has(job.state)) job.state = 'Aborted';
    else return sfError(400, 'INVALIDJOBSTATE', `Cannot change job state from ${job.state} to ${String(state)}`);
    return this.#info(job, false);
  }

  #result(job: FakeIngestJob, set: ResultSet, request: RouteRequest): Reply {
    if (!TERMINAL.has(job.state)) return sfError(400, 'INVALIDJOBSTATE', `Job is in state ${job.state}; results are available once it has finished`);
    return resultReply(job, set, request.url, this.#results);
  }

  #info(job: FakeIngestJob, check: boolean): Reply {
    if (check) job.stateChecks += 1;
    const after = this.options.autoCompleteAfterPolls;
    if (check && after !== undefined && (job.state === 'UploadComplete' || job.state === 'InProgress')) {
      if (job.stateChecks >= after) this.#run(job, job.rows.length, 'JobComplete');
      else this.#run(job, Math.floor(job.rows.length / 2), 'InProgress');
    }
    const { object, operation, externalIdFieldName, assignmentRuleId, lineEnding, columnDelimiter } = job.definition;
    return {
      status: 200,
      json: {
        id: job.id, object, operation, externalIdFieldName, assignmentRuleId, state: job.state, contentType: 'CSV', apiVersion: Number(job.apiVersion),
        lineEnding: lineEnding ?? 'LF', columnDelimiter: columnDelimiter ?? 'COMMA', contentUrl: `services/data/v${job.apiVersion}/jobs/ingest/${job.id}/batches`,
        numberRecordsProcessed: job.processed, numberRecordsFailed: job.failed.length, retries: 0, totalProcessingTime: 0,
        ...(job.errorMessage ? { errorMessage: job.errorMessage } : {}),
      },
    };
  }

  #run(job: FakeIngestJob, count: number, state: IngestState): void {
    processRows(job, count, state, this.#process);
    if (!TERMINAL.has(job.state) || !this.#misreport || job.processed === 0) return;
    job.misreport = this.#misreport;
    const first = job.rows[0]!;
    if (!job.failed.some((f) => f.row === first)) job.failed.unshift({ row: first, error: 'UNKNOWN_EXCEPTION:an error Salesforce gives no detail for:--' });
  }
}

export async function startSalesforceFake(options: SalesforceFakeOptions = {}): Promise<SalesforceFake> {
  const fake = new SalesforceFake(options);
  await fake.server.listen();
  return fake;
}
