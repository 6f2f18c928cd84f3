/**
 * The fake's ingest jobs: what creating a job checks ("Create a Job"), what an upload is parsed
 * with ("Upload Job Data": the job's `columnDelimiter` and `lineEnding`, 150 MB after base64), and
 * how records are processed ("Understanding Bulk API 2.0 Ingest": internal batches of 10,000
 * records, rows sharing a key in one batch all fail, the daily record allowance fails the job and
 * leaves the rest unprocessed).
 */
import { parse } from 'csv-parse/sync';
import type { Reply } from '../../../test/fakes/vendor-server.ts';

export type IngestState = 'Open' | 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';
export const TERMINAL = new Set<IngestState>(['JobComplete', 'Failed', 'Aborted']);

export interface FakeIngestJob {
  readonly id: string;
  readonly apiVersion: string;
  readonly definition: Record<string, unknown>;
  state: IngestState;
  header: string[];
  rows: string[][];
  uploadBytes: number;
  /** A problem with the uploaded data that fails the job once it is processed (wrong line ending). */
  dataError?: string;
  /** Rows processed so far (from the start of `rows`), and the failed ones among them with their error. */
  processed: number;
  failed: Array<{ row: string[]; error: string }>;
  errorMessage: string;
  stateChecks: number;
  /** How often each result set was read, for results that arrive late. */
  readonly resultReads: Map<string, number>;
  /** The misreport mode in force when the job finished (see fake-results.ts). */
  misreport?: 'undercount' | 'stray-row';
}

export const sfError = (status: number, errorCode: string, message: string): Reply => ({ status, json: [{ errorCode, message }] });

const OPERATIONS = ['insert', 'update', 'upsert', 'delete', 'hardDelete'];
const DELIMITERS: Record<string, string> = { COMMA: ',', TAB: '\t', PIPE: '|', SEMICOLON: ';', CARET: '^', BACKQUOTE: '`' };
/** Salesforce splits a job into internal batches of this many records. */
const INTERNAL_BATCH = 10_000;

/** The error answer for a job definition Salesforce would refuse, or undefined. */
export function definitionProblem(definition: Record<string, unknown>, apiVersion: number): Reply | undefined {
  const { object, operation, externalIdFieldName, contentType, lineEnding, columnDelimiter, assignmentRuleId } = definition;
  const invalid = (message: string) => sfError(400, 'INVALIDJOB', `InvalidJob : ${message}`);
  if (typeof object !== 'string' || object === '') return invalid('object is required');
  if (!OPERATIONS.includes(String(operation))) return invalid(`Invalid operation: ${String(operation)}`);
  if (operation === 'upsert' && typeof externalIdFieldName !== 'string') return invalid('External ID field is required for upsert');
  if (operation !== 'upsert' && externalIdFieldName !== undefined) return invalid('External ID field is only valid for upsert');
  if ((contentType ?? 'CSV') !== 'CSV') return invalid(`Invalid contentType: ${String(contentType)}`);
  if (!['LF', 'CRLF', undefined].includes(lineEnding as string)) return invalid(`Invalid lineEnding: ${String(lineEnding)}`);
  if (columnDelimiter !== undefined && !(String(columnDelimiter) in DELIMITERS)) return invalid(`Invalid columnDelimiter: ${String(columnDelimiter)}`);
  if (assignmentRuleId !== undefined) {
    if (apiVersion < 49) return invalid('assignmentRuleId is available in API version 49.0 and later');
    if (typeof assignmentRuleId !== 'string' || !/^01Q/.test(assignmentRuleId)) return invalid('Invalid assignment rule id');
  }
  return undefined;
}

/** Adds an upload's rows to the job, parsed as the job declared its CSV. */
export function acceptUpload(job: FakeIngestJob, body: Buffer): void {
  const lineEnding = job.definition.lineEnding ?? 'LF';
  const text = body.toString('utf8');
  if (lineEnding === 'LF' && text.includes('\r\n')) job.dataError = 'ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF';
  if (lineEnding === 'CRLF' && /[^\r]\n/.test(text)) job.dataError = 'ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is CRLF';
  const delimiter = DELIMITERS[String(job.definition.columnDelimiter ?? 'COMMA')];
  const [header = [], ...rows] = parse(body, { delimiter, relax_column_count: true }) as string[][];
  job.header = header;
  job.rows.push(...rows);
  job.uploadBytes += body.length;
}

export interface ProcessOptions {
  rowOutcome?: (row: Record<string, string>) => { error?: string } | undefined;
  /** Records the org may still process in its 24-hour window; processing stops (job Failed) when it runs out. */
  recordAllowance: { left: number };
}

/** Processes records up to `count` (in file order) and moves the job to `state`. */
export function processRows(job: FakeIngestJob, count: number, state: IngestState, options: ProcessOptions): void {
  if (job.dataError) {
    Object.assign(job, { state: 'Failed', errorMessage: job.dataError });
    return;
  }
  const target = Math.min(count, job.rows.length);
  const duplicates = duplicateKeyErrors(job);
  for (let index = job.processed; index < target; index++) {
    if (options.recordAllowance.left <= 0) {
      Object.assign(job, { processed: index, state: 'Failed', errorMessage: 'ExceededQuota : the 24-hour rolling limit of records for Bulk API was exceeded' });
      return;
    }
    options.recordAllowance.left -= 1;
    const row = job.rows[index]!;
    const error = duplicates.get(index) ?? options.rowOutcome?.(Object.fromEntries(job.header.map((name, i) => [name, row[i] ?? ''])))?.error;
    if (error) job.failed.push({ row, error });
  }
  job.processed = Math.max(job.processed, target);
  job.state = state;
}

/**
 * Rows that share an upsert's external id (or an update's / delete's Id) with another row of the
 * same internal batch: Salesforce fails all of them (DUPLICATE_VALUE).
 */
function duplicateKeyErrors(job: FakeIngestJob): Map<number, string> {
  const operation = String(job.definition.operation);
  const keyName = operation === 'upsert' ? String(job.definition.externalIdFieldName) : operation === 'insert' ? undefined : 'Id';
  const errors = new Map<number, string>();
  if (!keyName) return errors;
  const column = job.header.findIndex((name) => name.toLowerCase() === keyName.toLowerCase());
  if (column < 0) return errors;
  const what = operation === 'upsert' ? 'external id' : 'id';
  for (let start = 0; start < job.rows.length; start += INTERNAL_BATCH) {
    const seen = new Map<string, number[]>();
    job.rows.slice(start, start + INTERNAL_BATCH).forEach((row, offset) => {
      const value = row[column] ?? '';
      seen.set(value, [...(seen.get(value) ?? []), start + offset]);
    });
    for (const [value, indexes] of seen) {
      if (indexes.length > 1) for (const index of indexes) errors.set(index, `DUPLICATE_VALUE:Duplicate ${what} specified: ${value}:--`);
    }
  }
  return errors;
}
