/**
 * A fake of Marketo's Bulk Import API (leads, custom objects, program members) on a real HTTP
 * server, as strict as Marketo's documentation makes it. Tests and the benchmark start it with
 * `startMarketoFake(options)`; the benchmark uses `{ autoCompleteAfterPolls: 1 }`.
 *
 * | What it enforces | Documentation section |
 * |---|---|
 * | token from `POST`/`GET <identity>/oauth/token` with client credentials, else HTTP 401 `invalid_client` | Authentication: Creating an Access Token; Error Codes: HTTP-level (Identity 401) |
 * | asking again before expiry returns the same token and its remaining `expires_in` | Authentication: Tips and Best Practices |
 * | token only as `Authorization: Bearer`; no header (or the retired `access_token` parameter) → 601, expired → 602 | Bulk Import: Authentication; Authentication: Using an Access Token |
 * | request body over 10 MB (10,000,000 bytes, multipart envelope included) → HTTP 413 | Error Codes: HTTP-level (413, "10MB in the case of Import Lead") |
 * | more than 100 calls in 20 s → 606; past the daily quota → 607; more than 10 requests in flight → 615; error answers not counted | Error Codes: response-level (606, 607, 615) |
 * | errors as HTTP 200 `{requestId, success: false, errors: [{code, message}]}` | Error Codes: Response-Level errors |
 * | create: `multipart/form-data` (else 612), a `file` part with a file name (else 613), `format` csv/tsv/ssv (missing → 701) | Bulk Lead Import: Creating a Job; Error Codes (612, 613, 701) |
 * | optional `lookupField`, `listId` (unknown list → 1013), `partitionName` form fields | Bulk Lead Import: Creating a Job |
 * | at most 10 unfinished imports → 1016 Too many imports; two import at once | Bulk Lead Import: Processing Limits; Bulk Import: Limits |
 * | status Queued → Importing → Complete/Failed with `numOfLeadsProcessed` (custom objects: `numOfObjectsProcessed`), `numOfRowsFailed`, `numOfRowsWithWarning`, `message` | Polling Job Status |
 * | result files: the original columns plus `Import Failure Reason` / `Import Warning Reason`; 404 when there is none | Failures; Warnings; Bulk Custom Object Import: Failures (404) |
 * | result files as Marketo writes them: header in the field's own case, values trimmed, every cell quoted, rows not in file order | Failures (format of the file as sent, a field appended) |
 * | duplicate keys in one file: every row is processed, the later row wins | Bulk Import: Record Operations ("insert or update") |
 * | custom objects: `POST /bulk/v1/customobjects/{apiName}/import.json`, unknown object → 1013, rows without the dedupe field fail `missing.dedupe.fields` | Bulk Custom Object Import |
 * | program members: `POST /bulk/v1/program/{programId}/members/import.json`, `programMemberStatus` required (701), rows need `email` | Bulk Program Member Import: Creating a Job |
 *
 * Faults a test can switch on: `lateResultReads` (result files answer 404 for their first reads
 * although the status counts rows), and `misreport(mode)` (the conformance hook): `undercount`
 * counts one more failed row than the failure file lists, `stray-row` lists a failed row whose
 * values match nothing that was sent; both keep `numOfLeadsProcessed + numOfRowsFailed` equal to
 * the rows of the file, as a Marketo that garbled one row's echo would.
 */
import { OAuthVendorFake } from '../../../test/fakes/oauth-vendor.ts';
import type { ConformanceSetup } from '../../../test/conformance/suite.ts';
import type { Reply, RouteRequest } from '../../../test/fakes/vendor-server.ts';
import { MarketoGate, marketoErrorReply } from './fake-gate.ts';
import { isFormat, readImportFile, resultFile } from './fake-files.ts';

export { marketoErrorReply };

export interface MarketoFakeOptions {
  clientId?: string;
  clientSecret?: string;
  /** Lifetime of a new token (`expires_in`); default 3600. */
  tokenTtlSeconds?: number;
  /** Unfinished imports allowed before 1016; Marketo allows 10. */
  queueLimit?: number;
  /** Calls allowed per window before 606; Marketo allows 100 per 20 s. */
  rateLimit?: { calls: number; windowMs: number };
  /** Successful calls allowed before 607; default 50,000. */
  dailyQuota?: number;
  /** Requests in flight before 615; default 10. */
  concurrency?: number;
  /** Each Bulk API call stays in flight until this settles; default: answered at once. */
  holdCalls?: Promise<void>;
  /** Largest request body; default 10,000,000 bytes. */
  maxRequestBytes?: number;
  /** Each status check moves an import one step; it is Complete after this many. Unset: only `complete*` calls finish imports. */
  autoCompleteAfterPolls?: number;
  /** Decides each row's fate when its import is created (keyed by canonical column name, values trimmed). */
  rowOutcome?: (row: Record<string, string>) => { fail?: string; warn?: string } | undefined;
  /** Result files answer 404 this many times each before they exist. */
  lateResultReads?: number;
  /** Static lists that exist; unset: every list exists. */
  listIds?: number[];
  /** Custom objects and their dedupe fields; default `{ car_c: ['vin'] }`. */
  customObjects?: Record<string, string[]>;
  /** Programs that exist; unset: every program exists. */
  programIds?: number[];
}

export type MarketoStatus = 'Queued' | 'Importing' | 'Complete' | 'Failed';
export type MarketoObject = 'leads' | 'customObject' | 'programMembers';

export interface MarketoImport {
  readonly batchId: number;
  readonly object: MarketoObject;
  /** Custom object API name or program id, from the path. */
  readonly target: string;
  status: MarketoStatus;
  /** The header as Marketo understood it (canonical case). */
  readonly header: string[];
  readonly rows: number;
  /** Size of the whole request body. */
  readonly requestBytes: number;
  readonly fileBytes: number;
  readonly fileName: string;
  /** Form fields and query parameters sent with the file. */
  readonly form: Record<string, string>;
  readonly failures: string[][];
  readonly warnings: string[][];
  /** Every row as stored (kept only when `rowOutcome` is set, to keep the benchmark lean). */
  readonly records: Array<Record<string, string>>;
  /** Failed rows the status counts beyond the file (misreport). */
  extraFailed: number;
  statusChecks: number;
  /** Reads of each result file so far. */
  readonly fileReads: { failures: number; warnings: number };
  message: string;
}

const ok = (result: unknown[]): Reply => ({ status: 200, json: { requestId: 'fake#ok', success: true, result } });
const BATCH = '(\\d+)';

export class MarketoFake extends OAuthVendorFake {
  readonly imports = new Map<number, MarketoImport>();
  /** Marketo error codes this fake answered by itself (scripted faults not included), in order. */
  readonly codesSent: string[] = [];
  /** Leads by lookup value (last write wins), when `rowOutcome` keeps records. */
  readonly leads = new Map<string, Record<string, string>>();
  readonly #gate: MarketoGate;
  #current: { token: string; expiresAt: number } | undefined;
  #misreport: 'undercount' | 'stray-row' | undefined;
  #nextBatchId = 1000;

  constructor(private readonly options: MarketoFakeOptions = {}) {
    super(options.clientId ?? 'fake-client-id', options.clientSecret ?? 'fake-client-secret-51c0');
    this.#gate = new MarketoGate(
      {
        maxRequestBytes: options.maxRequestBytes ?? 10_000_000,
        rateLimit: options.rateLimit ?? { calls: 100, windowMs: 20_000 },
        dailyQuota: options.dailyQuota ?? 50_000,
        concurrency: options.concurrency ?? 10,
        holdCalls: options.holdCalls,
      },
      this.tokens,
      (code) => this.codesSent.push(code),
    );
    const gated = (handle: (r: RouteRequest) => Promise<Reply> | Reply) => (r: RouteRequest) => this.#gate.pass(r, () => handle(r));
    const files = (object: MarketoObject) => (r: RouteRequest) => this.#file(r, object);
    this.server.route(
      { name: 'token', method: 'POST', pattern: /^\/identity\/oauth\/token$/, handle: (r) => this.#token(r) },
      { name: 'token', method: 'GET', pattern: /^\/identity\/oauth\/token$/, handle: (r) => this.#token(r) },
      { name: 'upload', method: 'POST', pattern: /^\/bulk\/v1\/leads\.json$/, handle: gated((r) => this.#upload(r, 'leads', '')) },
      { name: 'status', method: 'GET', pattern: new RegExp(`^/bulk/v1/leads/batch/${BATCH}\\.json$`), handle: gated((r) => this.#status(r, 'leads')) },
      { name: 'results', method: 'GET', pattern: new RegExp(`^/bulk/v1/leads/batch/${BATCH}/(failures|warnings)\\.json$`), handle: gated(files('leads')) },
      { name: 'upload', method: 'POST', pattern: /^\/bulk\/v1\/customobjects\/([^/]+)\/import\.json$/, handle: gated((r) => this.#upload(r, 'customObject', r.params[0]!)) },
      { name: 'status', method: 'GET', pattern: new RegExp(`^/bulk/v1/customobjects/[^/]+/import/${BATCH}/status\\.json$`), handle: gated((r) => this.#status(r, 'customObject')) },
      { name: 'results', method: 'GET', pattern: new RegExp(`^/bulk/v1/customobjects/[^/]+/import/${BATCH}/(failures|warnings)\\.json$`), handle: gated(files('customObject')) },
      { name: 'upload', method: 'POST', pattern: /^\/bulk\/v1\/program\/(\d+)\/members\/import\.json$/, handle: gated((r) => this.#upload(r, 'programMembers', r.params[0]!)) },
      { name: 'status', method: 'GET', pattern: new RegExp(`^/bulk/v1/program/members/import/${BATCH}/status\\.json$`), handle: gated((r) => this.#status(r, 'programMembers')) },
      { name: 'results', method: 'GET', pattern: new RegExp(`^/bulk/v1/program/members/import/${BATCH}/(failures|warnings)\\.json$`), handle: gated(files('programMembers')) },
    );
  }

  /** A destination config pointing at this fake; `extra` overrides or adds fields. */
  config(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      restEndpoint: `${this.url}/rest`,
      identityEndpoint: `${this.url}/identity`,
      clientId: this.clientId,
      clientSecret: this.clientSecret,
      fieldMapping: { email: 'email', firstName: 'firstName', 'company.name': 'company' },
      ...extra,
    };
  }

  override conformanceSetup(config: unknown): ConformanceSetup {
    return { ...super.conformanceSetup(config), misreport: async (mode) => this.misreport(mode) };
  }

  /** When the token the identity service hands out now expires (epoch ms); 0 before the first. */
  get tokenExpiresAt(): number {
    return this.#current?.expiresAt ?? 0;
  }

  /** Imports created from now on report their results inconsistently (see the header comment). */
  misreport(mode: 'undercount' | 'stray-row' | undefined): void {
    this.#misreport = mode;
  }

  /** The next `times` requests of `route` get Marketo error `code`. */
  failWith(route: string, code: string, message: string, times = 1): void {
    this.script({ on: route, reply: marketoErrorReply(code, message), times });
  }

  /** Every unfinished import completes now (rows fail or warn as `rowOutcome` decided). */
  completeAll(): void {
    for (const imp of this.imports.values()) if (imp.status === 'Queued' || imp.status === 'Importing') imp.status = 'Complete';
  }

  failImport(batchId: number, message: string): void {
    const imp = this.imports.get(batchId);
    if (imp) Object.assign(imp, { status: 'Failed', message });
  }

  #error(code: string, message: string): Reply {
    this.codesSent.push(code);
    return marketoErrorReply(code, message);
  }

  /** Marketo's identity service: one token per client until it expires, with its remaining lifetime. */
  #token(request: RouteRequest): Reply {
    const form = new URLSearchParams(request.method === 'POST' ? request.body.toString('utf8') : request.url.search);
    if (form.get('grant_type') !== 'client_credentials' || form.get('client_id') !== this.clientId || form.get('client_secret') !== this.clientSecret) {
      return { status: 401, json: { error: 'invalid_client', error_description: 'Bad client credentials' } };
    }
    const current = this.#current;
    if (!current || this.tokens.check(`Bearer ${current.token}`) !== 'valid') {
      const ttl = (this.options.tokenTtlSeconds ?? 3600) * 1000;
      this.#current = { token: this.tokens.issue(ttl, 'mkto'), expiresAt: Date.now() + ttl };
    }
    const { token, expiresAt } = this.#current!;
    const remaining = Math.max(0, Math.floor((expiresAt - Date.now()) / 1000));
    return { status: 200, json: { access_token: `${token}:ab`, token_type: 'bearer', expires_in: remaining, scope: 'api@fake' } };
  }

  async #upload(request: RouteRequest, object: MarketoObject, target: string): Promise<Reply> {
    if (!/^multipart\/form-data/i.test(request.headers['content-type'] ?? '')) return this.#error('612', 'Invalid Content Type');
    const unfinished = [...this.imports.values()].filter((i) => i.status === 'Queued' || i.status === 'Importing').length;
    if (unfinished >= (this.options.queueLimit ?? 10)) return this.#error('1016', 'Too many imports');
    const form = await new Response(new Uint8Array(request.body), { headers: { 'content-type': request.headers['content-type']! } }).formData().catch(() => undefined);
    const file = form?.get('file');
    if (!form || !(file instanceof File) || !file.name) return this.#error('613', 'Invalid Multipart Request');
    const fields: Record<string, string> = Object.fromEntries(request.url.searchParams.entries());
    for (const [name, value] of form.entries()) if (typeof value === 'string') fields[name] = value;
    if (fields.access_token !== undefined) return this.#error('601', 'Access token invalid');
    const format = fields.format ?? '';
    if (format === '') return this.#error('701', 'format cannot be blank');
    if (!isFormat(format)) return this.#error('1003', `Invalid format '${format}'`);
    const problem = this.#targetProblem(object, target, fields);
    if (problem) return problem;
    const { header, rows } = readImportFile(Buffer.from(await file.arrayBuffer()), format);
    const imp: MarketoImport = {
      batchId: this.#nextBatchId++, object, target, status: 'Queued', header, rows: rows.length, requestBytes: request.body.length,
      fileBytes: file.size, fileName: file.name, form: fields, failures: [], warnings: [], records: [], extraFailed: 0,
      statusChecks: 0, fileReads: { failures: 0, warnings: 0 }, message: '',
    };
    this.#decideRows(imp, rows);
    this.imports.set(imp.batchId, imp);
    return ok([{ batchId: imp.batchId, importId: String(imp.batchId), status: 'Queued', ...(object === 'customObject' ? { objectApiName: target } : {}) }]);
  }

  /** What Marketo refuses about the object of an import before queueing it. */
  #targetProblem(object: MarketoObject, target: string, fields: Record<string, string>): Reply | undefined {
    if (object === 'leads' && fields.listId !== undefined && this.options.listIds && !this.options.listIds.includes(Number(fields.listId))) {
      return this.#error('1013', 'Object not found');
    }
    if (object === 'customObject' && !Object.hasOwn(this.#customObjects(), target)) return this.#error('1013', 'Object not found');
    if (object === 'programMembers') {
      if (!fields.programMemberStatus) return this.#error('701', 'programMemberStatus cannot be blank');
      if (this.options.programIds && !this.options.programIds.includes(Number(target))) return this.#error('1013', 'Object not found');
    }
    return undefined;
  }

  #customObjects(): Record<string, string[]> {
    return this.options.customObjects ?? { car_c: ['vin'] };
  }

  /** Fates of the rows, Marketo's own rules first (required keys), then the test's `rowOutcome`. */
  #decideRows(imp: MarketoImport, rows: string[][]): void {
    const required = imp.object === 'customObject' ? this.#customObjects()[imp.target]! : imp.object === 'programMembers' ? ['email'] : [];
    const lookup = imp.object === 'leads' ? (imp.form.lookupField ?? 'email') : undefined;
    for (const row of rows) {
      const record = Object.fromEntries(imp.header.map((name, i) => [name, row[i] ?? '']));
      const missing = required.find((name) => !record[name]);
      const fate = missing ? { fail: imp.object === 'customObject' ? 'missing.dedupe.fields' : `Missing value for ${missing}` } : this.options.rowOutcome?.(record);
      if (this.options.rowOutcome) imp.records.push(record);
      if (fate?.fail) imp.failures.push([...row, fate.fail]);
      else {
        if (fate?.warn) imp.warnings.push([...row, fate.warn]);
        if (this.options.rowOutcome && lookup) this.leads.set((record[lookup] ?? '').toLowerCase(), record);
      }
    }
    if (this.#misreport === 'undercount') imp.extraFailed = 1;
    // The stray row stands for one of ours echoed wrongly: counted among the failed, matching no job.
    if (this.#misreport === 'stray-row') {
      imp.failures.push([...imp.header.map((name) => `stray-${name}`), 'Invalid email address']);
    }
  }

  #status(request: RouteRequest, object: MarketoObject): Reply {
    const imp = this.imports.get(Number(request.params[0]));
    if (!imp || imp.object !== object) return this.#error('1013', 'Object not found');
    imp.statusChecks += 1;
    if (this.options.autoCompleteAfterPolls !== undefined) this.#advance(imp);
    const done = imp.status === 'Complete';
    const failed = done ? imp.failures.length + imp.extraFailed : 0;
    const warned = done ? imp.warnings.length : 0;
    const processed = done ? imp.rows - failed : imp.status === 'Importing' ? Math.floor(imp.rows / 2) : 0;
    const message = imp.status === 'Failed' ? imp.message : `Import ${done ? (failed ? 'completed with errors' : 'succeeded') : imp.status.toLowerCase()}, ${processed} records imported (${processed} members)${failed ? `, ${failed} failed` : ''}`;
    const countName = object === 'customObject' ? 'numOfObjectsProcessed' : 'numOfLeadsProcessed';
    return ok([{ batchId: imp.batchId, importId: String(imp.batchId), status: imp.status, [countName]: processed, numOfRowsFailed: failed, numOfRowsWithWarning: warned, message }]);
  }

  /** Queued → Importing (at most two at once, as Marketo runs them) → Complete. */
  #advance(imp: MarketoImport): void {
    const importing = [...this.imports.values()].filter((i) => i.status === 'Importing').length;
    if (imp.status === 'Queued' && importing < 2) imp.status = 'Importing';
    if (imp.status === 'Importing' && imp.statusChecks >= this.options.autoCompleteAfterPolls!) imp.status = 'Complete';
  }

  #file(request: RouteRequest, object: MarketoObject): Reply {
    const imp = this.imports.get(Number(request.params[0]));
    const kind = request.params[1] as 'failures' | 'warnings';
    if (!imp || imp.object !== object || imp.status !== 'Complete') return this.#error('1013', 'Object not found');
    const rows = kind === 'failures' ? imp.failures : imp.warnings;
    imp.fileReads[kind] += 1;
    // Written after the import completes: early reads find no file yet.
    if (rows.length === 0 || imp.fileReads[kind] <= (this.options.lateResultReads ?? 0)) return { status: 404, text: 'Not Found' };
    // Marketo lists rows in its own order: here, last row first.
    return { status: 200, contentType: 'text/csv;charset=UTF-8', text: resultFile(imp.header, kind === 'failures' ? 'Import Failure Reason' : 'Import Warning Reason', [...rows].reverse()) };
  }
}

export async function startMarketoFake(options: MarketoFakeOptions = {}): Promise<MarketoFake> {
  const fake = new MarketoFake(options);
  await fake.server.listen();
  return fake;
}
