/**
 * A faithful fake of Marketo's Bulk Lead Import API for tests and the benchmark, on a real HTTP
 * server: `POST /identity/oauth/token`, `POST /bulk/v1/leads.json` (multipart, `format=csv`),
 * `GET /bulk/v1/leads/batch/{id}.json` and its `failures.json` / `warnings.json`. It answers like
 * Marketo: HTTP 200 with `success: false` and codes 600/601/602 (tokens), 606 (more than the
 * allowed calls per window), 1016 (more than 10 unfinished imports), 1013 (unknown batch); HTTP
 * 413 for a file of 10 MB or more. Imports go Queued → Importing → Complete (or Failed), at most
 * two importing at once, when the test says so or by themselves after some status checks.
 *
 * `startMarketoFake(options)` is the entry point; the benchmark uses
 * `startMarketoFake({ autoCompleteAfterPolls: 1 })`: imports finish on the first status check and
 * no row fails.
 */
import { parse } from 'csv-parse/sync';
import { OAuthVendorFake } from './oauth-vendor.ts';
import type { Reply, RouteRequest } from './vendor-server.ts';

export interface MarketoFakeOptions {
  clientId?: string;
  clientSecret?: string;
  /** Lifetime announced in `expires_in`; default 3600. */
  tokenTtlSeconds?: number;
  /** Unfinished imports allowed before 1016; Marketo allows 10. */
  queueLimit?: number;
  /** Calls allowed per window before 606; Marketo allows 100 per 20 s. */
  rateLimit?: { calls: number; windowMs: number };
  /** Files this size or larger get HTTP 413; Marketo's limit is 10 MB. */
  maxFileBytes?: number;
  /** Each status check moves an import one step; it is Complete after this many. Unset: only `complete*` calls finish imports. */
  autoCompleteAfterPolls?: number;
  /** Decides each row's fate when its import is created (keyed by column name). */
  rowOutcome?: (row: Record<string, string>) => { fail?: string; warn?: string } | undefined;
}

export type MarketoStatus = 'Queued' | 'Importing' | 'Complete' | 'Failed';

export interface MarketoImport {
  readonly batchId: number;
  status: MarketoStatus;
  readonly header: string[];
  readonly rows: number;
  readonly fileBytes: number;
  /** Form fields sent with the file. */
  readonly form: Record<string, string>;
  readonly failures: string[][];
  readonly warnings: string[][];
  /** Every row as sent (kept only when `rowOutcome` is set, to keep the benchmark lean). */
  readonly records: Array<Record<string, string>>;
  statusChecks: number;
  message: string;
}

const ok = (result: unknown[]): Reply => ({ status: 200, json: { requestId: 'fake#1', success: true, result } });
/** Marketo's error envelope: HTTP 200, `success: false`. */
export const marketoErrorReply = (code: string, message: string): Reply => ({
  status: 200,
  json: { requestId: 'fake#1', success: false, errors: [{ code, message }] },
});

export class MarketoFake extends OAuthVendorFake {
  readonly imports = new Map<number, MarketoImport>();
  /** Marketo error codes this fake answered by itself (scripted faults not included), in order. */
  readonly codesSent: string[] = [];
  readonly #calls: number[] = [];
  #nextBatchId = 1000;

  constructor(private readonly options: MarketoFakeOptions = {}) {
    super(options.clientId ?? 'fake-client-id', options.clientSecret ?? 'fake-client-secret-51c0');
    this.server.route(
      { name: 'token', method: 'POST', pattern: /^\/identity\/oauth\/token$/, handle: (r) => this.#token(r) },
      { name: 'token', method: 'GET', pattern: /^\/identity\/oauth\/token$/, handle: (r) => this.#token(r) },
      { name: 'upload', method: 'POST', pattern: /^\/bulk\/v1\/leads\.json$/, handle: (r) => this.#authed(r, () => this.#upload(r)) },
      { name: 'status', method: 'GET', pattern: /^\/bulk\/v1\/leads\/batch\/(\d+)\.json$/, handle: (r) => this.#authed(r, () => this.#status(r)) },
      { name: 'failures', method: 'GET', pattern: /^\/bulk\/v1\/leads\/batch\/(\d+)\/failures\.json$/, handle: (r) => this.#authed(r, () => this.#file(r, 'failures')) },
      { name: 'warnings', method: 'GET', pattern: /^\/bulk\/v1\/leads\/batch\/(\d+)\/warnings\.json$/, handle: (r) => this.#authed(r, () => this.#file(r, 'warnings')) },
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

  #token(request: RouteRequest): Reply {
    const form = new URLSearchParams(request.method === 'POST' ? request.body.toString('utf8') : request.url.search);
    if (form.get('grant_type') !== 'client_credentials' || form.get('client_id') !== this.clientId || form.get('client_secret') !== this.clientSecret) {
      return { status: 401, json: { error: 'invalid_client', error_description: 'Bad client credentials' } };
    }
    const ttl = this.options.tokenTtlSeconds ?? 3600;
    return { status: 200, json: { access_token: `${this.tokens.issue(ttl * 1000, 'mkto')}:ab`, token_type: 'bearer', expires_in: ttl, scope: 'api@fake' } };
  }

  /** Token and rate checks every Bulk API call goes through, in Marketo's order. */
  async #authed(request: RouteRequest, handle: () => Promise<Reply> | Reply): Promise<Reply> {
    const token = this.tokens.check(request.headers.authorization?.replace(/:ab$/, ''));
    if (!request.headers.authorization) return this.#error('600', 'Access token not specified');
    if (token === 'invalid') return this.#error('601', 'Access token invalid');
    if (token === 'expired') return this.#error('602', 'Access token expired');
    const limit = this.options.rateLimit ?? { calls: 100, windowMs: 20_000 };
    const now = Date.now();
    while (this.#calls.length > 0 && this.#calls[0]! <= now - limit.windowMs) this.#calls.shift();
    if (this.#calls.length >= limit.calls) return this.#error('606', `Max rate limit '${limit.calls}' exceeded with in '${limit.windowMs / 1000}' secs`);
    this.#calls.push(now);
    return handle();
  }

  async #upload(request: RouteRequest): Promise<Reply> {
    const unfinished = [...this.imports.values()].filter((i) => i.status === 'Queued' || i.status === 'Importing').length;
    if (unfinished >= (this.options.queueLimit ?? 10)) return this.#error('1016', 'Too many imports');
    const form = await new Response(new Uint8Array(request.body), { headers: { 'content-type': request.headers['content-type'] ?? '' } }).formData().catch(() => undefined);
    const file = form?.get('file');
    const format = form?.get('format') ?? request.url.searchParams.get('format');
    if (!form || !(file instanceof Blob) || format !== 'csv') return this.#error('613', 'Invalid multipart request');
    if (file.size >= (this.options.maxFileBytes ?? 10_000_000)) return { status: 413, text: 'Request Entity Too Large' };
    const [header = [], ...rows] = parse(Buffer.from(await file.arrayBuffer()), { relax_column_count: true }) as string[][];
    const fields: Record<string, string> = {};
    for (const [name, value] of form.entries()) if (typeof value === 'string') fields[name] = value;
    const imp: MarketoImport = {
      batchId: this.#nextBatchId++, status: 'Queued', header, rows: rows.length, fileBytes: file.size, form: fields,
      failures: [], warnings: [], records: [], statusChecks: 0, message: '',
    };
    for (const row of this.options.rowOutcome ? rows : []) {
      const record = Object.fromEntries(header.map((name, i) => [name, row[i] ?? '']));
      imp.records.push(record);
      const fate = this.options.rowOutcome!(record);
      if (fate?.fail) imp.failures.push([...row, fate.fail]);
      else if (fate?.warn) imp.warnings.push([...row, fate.warn]);
    }
    this.imports.set(imp.batchId, imp);
    return ok([{ batchId: imp.batchId, importId: String(imp.batchId), status: 'Queued' }]);
  }

  #status(request: RouteRequest): Reply {
    const imp = this.imports.get(Number(request.params[0]));
    if (!imp) return this.#error('1013', 'Object not found');
    imp.statusChecks += 1;
    if (this.options.autoCompleteAfterPolls !== undefined) this.#advance(imp);
    const failed = imp.status === 'Complete' ? imp.failures.length : 0;
    const warned = imp.status === 'Complete' ? imp.warnings.length : 0;
    const processed = imp.status === 'Complete' ? imp.rows - failed : imp.status === 'Importing' ? Math.floor(imp.rows / 2) : 0;
    const message = imp.status === 'Failed' ? imp.message : `Import ${imp.status.toLowerCase()}, ${processed} records imported, ${failed} failed`;
    return ok([{ batchId: imp.batchId, status: imp.status, numOfLeadsProcessed: processed, numOfRowsFailed: failed, numOfRowsWithWarning: warned, message }]);
  }

  /** Queued → Importing (at most two at once, as Marketo runs them) → Complete. */
  #advance(imp: MarketoImport): void {
    const importing = [...this.imports.values()].filter((i) => i.status === 'Importing').length;
    if (imp.status === 'Queued' && importing < 2) imp.status = 'Importing';
    if (imp.status === 'Importing' && imp.statusChecks >= this.options.autoCompleteAfterPolls!) imp.status = 'Complete';
  }

  #file(request: RouteRequest, kind: 'failures' | 'warnings'): Reply {
    const imp = this.imports.get(Number(request.params[0]));
    if (!imp || imp.status !== 'Complete') return this.#error('1013', 'Object not found');
    const reasonColumn = kind === 'failures' ? 'Import Failure Reason' : 'Import Warning Reason';
    const lines = [[...imp.header, reasonColumn], ...(kind === 'failures' ? imp.failures : imp.warnings)];
    return { status: 200, contentType: 'text/csv;charset=UTF-8', text: lines.map((cells) => cells.map(csvCell).join(',')).join('\n') + '\n' };
  }
}

function csvCell(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export async function startMarketoFake(options: MarketoFakeOptions = {}): Promise<MarketoFake> {
  const fake = new MarketoFake(options);
  await fake.server.listen();
  return fake;
}
