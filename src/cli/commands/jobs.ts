/**
 * `batch-router jobs` (a filtered listing, newest first, paged with --before) and
 * `batch-router job <id>` (one job with its payload, upload, import and next try).
 */
import { readPayload, readPayloads } from '../../store/job-payloads.repository.ts';
import { getImport } from '../../store/imports.repository.ts';
import { getJob } from '../../store/jobs.repository.ts';
import { listJobs } from '../../store/jobs.listing.ts';
import { JOB_STATES, type JobRow } from '../../db/schema.ts';
import { getUpload } from '../../store/uploads.repository.ts';
import { optFlag, optInt, optList, optString, parseId, parseStates } from '../args.ts';
import { EXIT, UsageError, type Command } from '../command.ts';
import { withDatabase } from '../database.ts';
import { formatWhen, printJson, printTable, relative, renderFields, truncate, withCode } from '../output.ts';
import { importJson, jobDetailJson, jobJson, nextTry, uploadJson } from '../views.ts';

export const jobsCommand: Command = {
  name: 'jobs',
  async run(input, ctx) {
    const states = parseStates(optList(input, 'state'), JOB_STATES, '--state');
    const limit = optInt(input, 'limit', { min: 1, max: 10_000, fallback: 50 });
    const before = optString(input, 'before');
    const filter = {
      destinationId: optString(input, 'destination'),
      states,
      submissionId: optString(input, 'submission'),
      beforeId: before === undefined ? undefined : parseId(before, '--before'),
      limit,
    };
    const withPayload = optFlag(input, 'payload');
    return withDatabase(ctx, async (db) => {
      const rows = await listJobs(db, filter);
      const payloads = withPayload ? await readPayloads(db, rows.map((r) => r.id)) : undefined;
      if (optFlag(input, 'json')) {
        printJson(ctx, rows.map((row) => jobJson(row, payloads ? (payloads.get(row.id) ?? null) : undefined)));
        return EXIT.ok;
      }
      if (rows.length === 0) {
        ctx.note('no jobs match');
        return EXIT.ok;
      }
      const now = Date.now();
      const headers = ['ID', 'DESTINATION', 'STATE', 'ATTEMPTS', 'NEXT ATTEMPT', 'REASON / LAST ERROR'];
      const table = rows.map((row) => [
        row.id,
        row.destination_id,
        row.state,
        String(row.attempts),
        row.state !== 'waiting' ? '-' : row.next_attempt_at.getTime() <= now ? 'due' : relative(row.next_attempt_at, now),
        problemOf(row),
        ...(payloads ? [truncate(JSON.stringify(payloads.get(row.id) ?? null), 60)] : []),
      ]);
      printTable(ctx, payloads ? [...headers, 'PAYLOAD'] : headers, table);
      if (rows.length === limit) ctx.note(`(first ${limit}; more with --before ${rows.at(-1)!.id})`);
      return EXIT.ok;
    });
  },
};

/** A due job is not late: it waits for a worker with room, or for its batch to fill or age. */
function describeNextTry(next: { at: Date; because: string }): string {
  const due = next.at.getTime() <= Date.now() ? 'due now (picked up with the next batch), ' : '';
  return `${due}${formatWhen(next.at)}, ${next.because}`;
}

/** The reason of a final state, else the last failure of a job still trying. */
function problemOf(row: JobRow): string {
  if (row.reason) return truncate(row.reason, 70);
  return row.last_error ? truncate(`last error: ${row.last_error}`, 70) : '';
}

export const jobCommand: Command = {
  name: 'job',
  async run(input, ctx) {
    const id = parseId(input.positionals[0]!, 'job id');
    return withDatabase(ctx, async (db) => {
      const job = await getJob(db, id);
      if (!job) {
        throw new UsageError(`job ${id} not found: check the id, or it may have been deleted by retention (BATCH_ROUTER_RETENTION_MAX_AGE_MS)`);
      }
      const [payload, upload, imp] = await Promise.all([
        readPayload(db, id),
        job.upload_id ? getUpload(db, job.upload_id) : undefined,
        job.import_id ? getImport(db, job.import_id) : undefined,
      ]);
      const next = nextTry(job, upload);
      if (optFlag(input, 'json')) {
        printJson(ctx, {
          ...jobJson(job, payload ?? null),
          ...jobDetailJson(job),
          nextTryAt: next ? next.at.toISOString() : null,
          upload: upload ? uploadJson(upload) : null,
          import: imp ? importJson(imp) : null,
        });
        return EXIT.ok;
      }
      ctx.print(`job ${job.id}`);
      ctx.print(
        renderFields([
          ['destination', job.destination_id],
          ['state', job.state],
          ['next try', next ? describeNextTry(next) : undefined],
          ['attempts', String(job.attempts)],
          ['reason', job.reason ?? undefined],
          ['last error', job.last_error ? withCode(job.last_error, job.error_code, job.vendor_code) : undefined],
          ['first failure', job.first_failed_at ? formatWhen(job.first_failed_at) : undefined],
          ['submission', job.submission_id ?? undefined],
          ['created', formatWhen(job.created_at)],
          ['updated', formatWhen(job.updated_at)],
          ['finished', job.finished_at ? formatWhen(job.finished_at) : undefined],
          ['payload bytes', String(job.payload_bytes)],
        ]),
      );
      if (upload) {
        ctx.print(`upload ${upload.id}: ${upload.state}, attempt ${upload.attempt}, ${upload.job_count} jobs (batch-router upload ${upload.id})`);
        if (upload.last_error) ctx.print(`  last error: ${truncate(upload.last_error, 200)}`);
      }
      if (imp) {
        const progress = imp.progress === null ? '' : `, ${imp.progress}%`;
        ctx.print(`import ${imp.id}: ${imp.state}${progress}, ${imp.poll_count} polls, handle ${JSON.stringify(imp.handle)}`);
        if (imp.last_error) ctx.print(`  last error: ${truncate(imp.last_error, 200)}`);
      }
      ctx.print('payload');
      ctx.print(payload === undefined ? '  (missing)' : JSON.stringify(payload, null, 2).replace(/^/gm, '  '));
      return EXIT.ok;
    });
  },
};
