/**
 * `batch-router uploads` (batches handed to managers, newest first) and `upload <id>` (one batch
 * with its vendor imports and where its jobs stand). For "why is nothing arriving" questions the
 * upload is usually the right level: one row per batch, with the last error of the batch.
 */
import { importsOfUpload } from '../../store/imports.repository.ts';
import { countStatesOfUpload } from '../../store/jobs.repository.ts';
import { JOB_STATES } from '../../db/schema.ts';
import { getUpload, listUploads } from '../../store/uploads.repository.ts';
import { optFlag, optInt, optList, optString, parseId, parseStates } from '../args.ts';
import { EXIT, UsageError, type Command } from '../command.ts';
import { withDatabase } from '../database.ts';
import { formatWhen, printJson, printTable, relative, renderFields, truncate, withCode } from '../output.ts';
import { importJson, UPLOAD_STATES, uploadJson } from '../views.ts';

export const uploadsCommand: Command = {
  name: 'uploads',
  async run(input, ctx) {
    const destinationId = optString(input, 'destination');
    const before = optString(input, 'before');
    const limit = optInt(input, 'limit', { min: 1, max: 10_000, fallback: 50 });
    const filter = {
      ...(destinationId ? { destinationId } : {}),
      states: parseStates(optList(input, 'state'), UPLOAD_STATES, '--state'),
      ...(before ? { beforeId: parseId(before, '--before') } : {}),
      limit,
    };
    return withDatabase(ctx, async (db) => {
      const rows = await listUploads(db, filter);
      if (optFlag(input, 'json')) {
        printJson(ctx, rows.map(uploadJson));
        return EXIT.ok;
      }
      if (rows.length === 0) {
        ctx.note('no uploads match');
        return EXIT.ok;
      }
      const now = Date.now();
      const table = rows.map((row) => [
        row.id,
        row.destination_id,
        row.manager,
        row.state,
        String(row.attempt),
        String(row.job_count),
        String(row.bytes),
        relative(row.created_at, now),
        truncate(row.last_error, 60),
      ]);
      printTable(ctx, ['ID', 'DESTINATION', 'MANAGER', 'STATE', 'ATTEMPT', 'JOBS', 'BYTES', 'CREATED', 'LAST ERROR'], table);
      if (rows.length === limit) ctx.note(`(first ${limit}; more with --before ${rows.at(-1)!.id})`);
      return EXIT.ok;
    });
  },
};

export const uploadCommand: Command = {
  name: 'upload',
  async run(input, ctx) {
    const id = parseId(input.positionals[0]!, 'upload id');
    return withDatabase(ctx, async (db) => {
      const upload = await getUpload(db, id);
      if (!upload) throw new UsageError(`upload ${id} not found: check the id, or it was deleted by retention after its jobs`);
      const [imports, jobs] = await Promise.all([importsOfUpload(db, id), countStatesOfUpload(db, id)]);
      if (optFlag(input, 'json')) {
        printJson(ctx, { ...uploadJson(upload), imports: imports.map(importJson), jobs });
        return EXIT.ok;
      }
      ctx.print(`upload ${upload.id}`);
      ctx.print(
        renderFields([
          ['destination', `${upload.destination_id} (manager ${upload.manager})`],
          ['state', upload.state],
          ['attempt', String(upload.attempt)],
          ['size', `${upload.job_count} jobs, ${upload.bytes} bytes`],
          ['lease', upload.lease_owner ? `${upload.lease_owner} until ${formatWhen(upload.lease_expires_at)}` : undefined],
          ['next try', upload.next_attempt_at ? formatWhen(upload.next_attempt_at) : undefined],
          ['last error', upload.last_error ? withCode(upload.last_error, upload.error_code) : undefined],
          ['created', formatWhen(upload.created_at)],
          ['finished', upload.finished_at ? formatWhen(upload.finished_at) : undefined],
          ['jobs now', JOB_STATES.map((s) => `${s} ${jobs[s]}`).join(', ')],
        ]),
      );
      for (const imp of imports) {
        const progress = imp.progress === null ? '' : `, ${imp.progress}%`;
        ctx.print(`import ${imp.id}: ${imp.state}${progress}, ${imp.poll_count} polls, handle ${JSON.stringify(imp.handle)}`);
        if (imp.last_error) ctx.print(`  last error: ${truncate(withCode(imp.last_error, imp.error_code), 200)}`);
        if (imp.unconfirmed_jobs > 0) {
          ctx.print(`  unconfirmed: the vendor's results did not confirm the outcome of ${imp.unconfirmed_jobs} job(s) (code outcome_unconfirmed)`);
        }
      }
      return EXIT.ok;
    });
  },
};
