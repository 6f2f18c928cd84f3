/**
 * A faithful fake of Salesforce's OAuth token endpoint and Bulk API 2.0 ingest jobs, on a real
 * HTTP server: `POST /services/oauth2/token` (client credentials, or a JWT bearer assertion checked
 * against `publicKey`), and under `/services/data/vXX.X/jobs/ingest`: create (POST), upload CSV
 * (`PUT /{id}/batches`), close or abort (`PATCH /{id}`), state (`GET /{id}`), `failedResults/`,
 * `unprocessedrecords/`, `successfulResults/`. Errors are JSON arrays `[{errorCode, message}]`
 * with a real status: 401 INVALID_SESSION_ID for a stale token, 404 NOT_FOUND, 400 INVALIDJOBSTATE.
 * Jobs go Open → UploadComplete → InProgress → JobComplete (or Failed / Aborted) when the test
 * says so, or by themselves after some state checks; a job never closed never starts.
 */
import { createVerify, type KeyObject } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { OAuthVendorFake } from './oauth-vendor.ts';
import type { Reply, RouteRequest } from './vendor-server.ts';

export interface SalesforceFakeOptions {
  clientId?: string;
  clientSecret?: string;
  /** JWT bearer flow: the user and the certificate's public key the assertion must verify against. */
  username?: string;
  publicKey?: KeyObject | string;
  /** Each state check moves a closed job one step; JobComplete after this many. Unset: only `complete*` calls finish jobs. */
  autoCompleteAfterPolls?: number;
  /** Decides each record's fate when it is processed: an `sf__Error` text fails it. */
  rowOutcome?: (row: Record<string, string>) => { error?: string } | undefined;
}

export type IngestState = 'Open' | 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';

export interface FakeIngestJob {
  readonly id: string;
  readonly definition: Record<string, unknown>;
  state: IngestState;
  header: string[];
  rows: string[][];
  uploadBytes: number;
  /** Rows processed so far (from the start of `rows`), and the failed ones among them with their error. */
  processed: number;
  failed: Array<{ row: string[]; error: string }>;
  errorMessage: string;
  stateChecks: number;
}

const sfError = (status: number, errorCode: string, message: string): Reply => ({ status, json: [{ errorCode, message }] });
const TERMINAL = new Set<IngestState>(['JobComplete', 'Failed', 'Aborted']);

export class SalesforceFake extends OAuthVendorFake {
  readonly jobs = new Map<string, FakeIngestJob>();
  #nextId = 1;

  constructor(private readonly options: SalesforceFakeOptions = {}) {
    super(options.clientId ?? 'fake-consumer-key', options.clientSecret ?? 'fake-consumer-secret-9a1b');
    const base = '^/services/data/v\\d+\\.\\d/jobs/ingest';
    const route = (name: string, method: string, path: string, handle: (r: RouteRequest) => Reply) => ({
      name,
      method,
      pattern: new RegExp(`${base}${path}$`),
      handle: (r: RouteRequest) => (this.tokens.check(r.headers.authorization) === 'valid' ? handle(r) : sfError(401, 'INVALID_SESSION_ID', 'Session expired or invalid')),
    });
    this.server.route(
      { name: 'token', method: 'POST', pattern: /^\/services\/oauth2\/token$/, handle: (r) => this.#token(r) },
      route('create', 'POST', '/?', (r) => this.#create(r)),
      route('upload', 'PUT', '/([^/]+)/batches/?', (r) => this.#withJob(r, (job) => this.#upload(job, r))),
      route('close', 'PATCH', '/([^/]+)/?', (r) => this.#withJob(r, (job) => this.#patch(job, r))),
      route('status', 'GET', '/([^/]+)/?', (r) => this.#withJob(r, (job) => this.#info(job, true))),
      route('failedResults', 'GET', '/([^/]+)/failedResults/?', (r) => this.#withJob(r, (job) => csv(['sf__Id', 'sf__Error', ...job.header], job.failed.map((f) => ['', f.error, ...f.row])))),
      route('unprocessed', 'GET', '/([^/]+)/unprocessedrecords/?', (r) => this.#withJob(r, (job) => csv(job.header, job.rows.slice(job.processed)))),
      route('successfulResults', 'GET', '/([^/]+)/successfulResults/?', (r) =>
        this.#withJob(r, (job) => csv(['sf__Id', 'sf__Created', ...job.header], job.rows.slice(0, job.processed).filter((row) => !job.failed.some((f) => f.row === row)).map((row, i) => [`003${i}`, 'true', ...row]))),
      ),
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
      ...extra,
    };
  }

  /** Every closed, unfinished job processes all its records now. */
  completeAll(): void {
    for (const job of this.jobs.values()) if (job.state === 'UploadComplete' || job.state === 'InProgress') this.#process(job, job.rows.length, 'JobComplete');
  }

  /** Ends a job `Failed` after processing its first `processed` records; the rest stay unprocessed. */
  failJob(id: string, errorMessage: string, processed = 0): void {
    const job = this.jobs.get(id);
    if (!job) return;
    this.#process(job, processed, 'Failed');
    job.errorMessage = errorMessage;
  }

  #token(request: RouteRequest): Reply {
    const form = new URLSearchParams(request.body.toString('utf8'));
    const grant = form.get('grant_type');
    const valid =
      grant === 'client_credentials'
        ? form.get('client_id') === this.clientId && form.get('client_secret') === this.clientSecret
        : grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer' && this.#validAssertion(form.get('assertion') ?? '');
    if (!valid) return { status: 400, json: { error: grant === 'client_credentials' ? 'invalid_client' : 'invalid_grant', error_description: 'authentication failure' } };
    return { status: 200, json: { access_token: this.tokens.issue(2 * 3600 * 1000, '00Dfake!'), instance_url: this.url, token_type: 'Bearer', issued_at: String(Date.now()) } };
  }

  #validAssertion(assertion: string): boolean {
    const [header, claims, signature] = assertion.split('.');
    if (!header || !claims || !signature || !this.options.publicKey) return false;
    if (!createVerify('RSA-SHA256').update(`${header}.${claims}`).verify(this.options.publicKey, signature, 'base64url')) return false;
    const body = JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as { iss?: string; sub?: string; aud?: string; exp?: number };
    return body.iss === this.clientId && body.sub === this.options.username && body.aud === this.url && (body.exp ?? 0) * 1000 > Date.now();
  }

  #create(request: RouteRequest): Reply {
    const definition = JSON.parse(request.body.toString('utf8') || '{}') as Record<string, unknown>;
    const { object, operation, externalIdFieldName, contentType, lineEnding } = definition;
    if (typeof object !== 'string' || object === '') return sfError(400, 'INVALIDJOB', 'InvalidJob : object is required');
    if (!['insert', 'update', 'upsert', 'delete', 'hardDelete'].includes(String(operation))) return sfError(400, 'INVALIDJOB', `InvalidJob : Invalid operation: ${String(operation)}`);
    if (operation === 'upsert' && typeof externalIdFieldName !== 'string') return sfError(400, 'INVALIDJOB', 'InvalidJob : External ID field is required for upsert');
    if ((contentType ?? 'CSV') !== 'CSV' || !['LF', 'CRLF', undefined].includes(lineEnding as string)) return sfError(400, 'INVALIDJOB', 'InvalidJob : unsupported content type or line ending');
    const job: FakeIngestJob = { id: `7508c00000${String(this.#nextId++).padStart(8, '0')}`, definition, state: 'Open', header: [], rows: [], uploadBytes: 0, processed: 0, failed: [], errorMessage: '', stateChecks: 0 };
    this.jobs.set(job.id, job);
    return this.#info(job, false);
  }

  #withJob(request: RouteRequest, handle: (job: FakeIngestJob) => Reply): Reply {
    const job = this.jobs.get(request.params[0] ?? '');
    return job ? handle(job) : sfError(404, 'NOT_FOUND', 'The requested resource does not exist');
  }

  #upload(job: FakeIngestJob, request: RouteRequest): Reply {
    if (job.state !== 'Open') return sfError(400, 'INVALIDJOBSTATE', `Job is in state ${job.state}; data can only be uploaded while Open`);
    const [header = [], ...rows] = parse(request.body, { relax_column_count: true }) as string[][];
    Object.assign(job, { header, rows: [...job.rows, ...rows], uploadBytes: job.uploadBytes + request.body.length });
    return { status: 201, text: '' };
  }

  #patch(job: FakeIngestJob, request: RouteRequest): Reply {
    const { state } = JSON.parse(request.body.toString('utf8') || '{}') as { state?: string };
    if (state === 'UploadComplete' && job.state === 'Open') job.state = 'UploadComplete';
    else if (state === 'Aborted' && !TERMINAL.has(job.state)) job.state = 'Aborted';
    else return sfError(400, 'INVALIDJOBSTATE', `Cannot change job state from ${job.state} to ${String(state)}`);
    return this.#info(job, false);
  }

  #info(job: FakeIngestJob, check: boolean): Reply {
    if (check) job.stateChecks += 1;
    const after = this.options.autoCompleteAfterPolls;
    if (check && after !== undefined && (job.state === 'UploadComplete' || job.state === 'InProgress')) {
      if (job.stateChecks >= after) this.#process(job, job.rows.length, 'JobComplete');
      else this.#process(job, Math.floor(job.rows.length / 2), 'InProgress');
    }
    const { object, operation, externalIdFieldName } = job.definition;
    return {
      status: 200,
      json: {
        id: job.id, object, operation, externalIdFieldName, state: job.state, contentType: 'CSV', lineEnding: 'LF', columnDelimiter: 'COMMA',
        numberRecordsProcessed: job.processed, numberRecordsFailed: job.failed.length, retries: 0, totalProcessingTime: 0,
        ...(job.errorMessage ? { errorMessage: job.errorMessage } : {}),
      },
    };
  }

  /** Processes records up to `count` (in file order), applying `rowOutcome`, and moves to `state`. */
  #process(job: FakeIngestJob, count: number, state: IngestState): void {
    for (const row of job.rows.slice(job.processed, count)) {
      const error = this.options.rowOutcome?.(Object.fromEntries(job.header.map((name, i) => [name, row[i] ?? ''])))?.error;
      if (error) job.failed.push({ row, error });
    }
    job.processed = Math.max(job.processed, Math.min(count, job.rows.length));
    job.state = state;
  }
}

/** Salesforce's result files quote every field. */
function csv(header: string[], rows: string[][]): Reply {
  return { status: 200, contentType: 'text/csv', text: stringify([header, ...rows], { quoted: true, record_delimiter: 'unix' }) };
}

export async function startSalesforceFake(options: SalesforceFakeOptions = {}): Promise<SalesforceFake> {
  const fake = new SalesforceFake(options);
  await fake.server.listen();
  return fake;
}
