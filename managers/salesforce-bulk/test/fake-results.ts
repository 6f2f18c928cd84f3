/**
 * The fake's three result sets, written as Salesforce writes them ("Get Job Successful / Failed /
 * Unprocessed Record Results"): CSV with every field quoted, `sf__Id` + `sf__Created` or `sf__Id`
 * + `sf__Error` before the columns sent, rows NOT in upload order (the guide says the order is not
 * guaranteed; the fake reverses it). Optional behaviours a test switches on:
 * - `lateReads`: the first reads of a finished job's sets miss their last row (results are
 *   written asynchronously);
 * - `pageSize`: a set is served in pages with `Sforce-Locator` / `locator` / `maxRecords`, as
 *   Salesforce pages query results (the ingest result resources document no parameters, so the
 *   manager only follows a locator when one comes);
 * - a job's `misreport`: `undercount` fails its first record, counts it, and lists it nowhere;
 *   `stray-row` fails it and echoes its cells changed, so the row matches no job.
 */
import { stringify } from 'csv-stringify/sync';
import type { Reply } from '../../../test/fakes/vendor-server.ts';
import type { FakeIngestJob } from './fake-jobs.ts';

export type ResultSet = 'successfulResults' | 'failedResults' | 'unprocessedrecords';

export interface ResultBehaviour {
  lateReads: number;
  pageSize?: number;
}

function rowsOf(job: FakeIngestJob, set: ResultSet): string[][] {
  const failed = new Set(job.failed.map((f) => f.row));
  if (set === 'unprocessedrecords') return job.rows.slice(job.processed);
  if (set === 'successfulResults') {
    return job.rows
      .slice(0, job.processed)
      .filter((row) => !failed.has(row))
      .map((row, i) => [`003fake${String(i).padStart(10, '0')}`, 'true', ...row]);
  }
  const listed = job.misreport === 'undercount' ? job.failed.slice(1) : job.failed;
  return listed.map((f, i) => {
    const cells = job.misreport === 'stray-row' && i === 0 ? f.row.map((cell, c) => (c === 0 ? `${cell} (as echoed)` : cell)) : f.row;
    return ['', f.error, ...cells];
  });
}

function headerOf(job: FakeIngestJob, set: ResultSet): string[] {
  if (set === 'successfulResults') return ['sf__Id', 'sf__Created', ...job.header];
  if (set === 'failedResults') return ['sf__Id', 'sf__Error', ...job.header];
  return job.header;
}

export function resultReply(job: FakeIngestJob, set: ResultSet, url: URL, behaviour: ResultBehaviour): Reply {
  const reads = (job.resultReads.get(set) ?? 0) + 1;
  job.resultReads.set(set, reads);
  let rows = rowsOf(job, set).reverse();
  if (reads <= behaviour.lateReads) rows = rows.slice(0, -1);
  const headers: Record<string, string> = {};
  if (behaviour.pageSize !== undefined) {
    const offset = Number(url.searchParams.get('locator') ?? '0');
    const size = Math.min(behaviour.pageSize, Number(url.searchParams.get('maxRecords') ?? behaviour.pageSize));
    const next = offset + size < rows.length ? String(offset + size) : 'null';
    rows = rows.slice(offset, offset + size);
    Object.assign(headers, { 'sforce-locator': next, 'sforce-numberofrecords': String(rows.length) });
  }
  return { status: 200, contentType: 'text/csv', headers, text: stringify([headerOf(job, set), ...rows], { quoted: true, record_delimiter: 'unix' }) };
}
