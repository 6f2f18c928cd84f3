/**
 * `retry` and `cancel` as real child processes: they change only the jobs their filters match
 * and only in the states they may, and say what they could not do.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { cliWorkspace, parseJson, runCli, type CliWorkspace } from './cli-runner.ts';

type TestDb = Awaited<ReturnType<typeof createTestDatabase>>;
let t: TestDb;
let ws: CliWorkspace;

beforeAll(async () => {
  t = await createTestDatabase();
  ws = cliWorkspace(t.url, [{ id: 'demo-files', manager: 'local-files', config: { directory: './out' } }]);
});
afterAll(async () => {
  ws?.cleanup();
  await t?.close();
});

const setState = (id: string, state: string, reason: string | null = null) =>
  sql`UPDATE br_jobs SET state = ${state}, reason = ${reason}, attempts = 3,
        finished_at = CASE WHEN ${state} IN ('succeeded', 'aborted', 'cancelled') THEN now() END
      WHERE id = ${id}::bigint`.execute(t.db);

const stateOf = async (ids: readonly string[]) =>
  (await t.db.selectFrom('br_jobs').select(['id', 'state']).where('id', 'in', [...ids]).orderBy('id').execute()).map((r) => r.state);

describe('batch-router retry', () => {
  it('refuses to run without a filter', async () => {
    const result = await runCli(['retry'], ws.env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('refusing to requeue without a filter');
  });

  it('requeues only the aborted jobs that match, keeping the reason as last error', async () => {
    const ids = await insertJobs(t.db, 'demo-files', ['{"a":1}', '{"a":2}', '{"a":3}', '{"a":4}'], 'retry-set');
    const [other] = await insertJobs(t.db, 'elsewhere', ['{"a":5}']);
    await setState(ids[0]!, 'aborted', 'HTTP 400: bad email');
    await setState(ids[1]!, 'aborted', 'HTTP 400: Bad Email address');
    await setState(ids[2]!, 'aborted', 'timed out');
    await setState(ids[3]!, 'succeeded');
    await setState(other!, 'aborted', 'bad email');

    const result = await runCli(['retry', '--destination', 'demo-files', '--reason-contains', 'bad email', '--json'], ws.env);
    expect(result.code, result.stderr).toBe(0);
    expect(parseJson(result)).toEqual({ requeued: 2, ids: [ids[0], ids[1]] });
    expect(await stateOf([...ids, other!])).toEqual(['waiting', 'waiting', 'aborted', 'succeeded', 'aborted']);
    const requeued = await t.db.selectFrom('br_jobs').selectAll().where('id', '=', ids[0]!).executeTakeFirstOrThrow();
    expect(requeued).toMatchObject({ attempts: 0, reason: null, last_error: 'HTTP 400: bad email', finished_at: null });
  });
});

describe('batch-router cancel', () => {
  it('cancels waiting jobs only and reports the ones it could not cancel', async () => {
    const ids = await insertJobs(t.db, 'demo-files', ['{"c":1}', '{"c":2}', '{"c":3}', '{"c":4}', '{"c":5}'], 'cancel-set');
    await setState(ids[3]!, 'executing');
    await setState(ids[4]!, 'succeeded');

    const result = await runCli(['cancel', '--submission', 'cancel-set'], ws.env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`cancelled 3 jobs: ids ${ids[0]}–${ids[2]}`);
    expect(result.stdout).toContain('1 job could not be cancelled: already uploading or importing');
    expect(result.stdout).toContain('1 job could not be cancelled: already final');
    expect(await stateOf(ids)).toEqual(['cancelled', 'cancelled', 'cancelled', 'executing', 'succeeded']);
  });

  it('--id reports ids that match nothing, and no filter is refused', async () => {
    const [id] = await insertJobs(t.db, 'demo-files', ['{"d":1}']);
    const [result, refused] = await Promise.all([runCli(['cancel', '--id', `${id},987654321`, '--json'], ws.env), runCli(['cancel'], ws.env)]);
    expect(result.code, result.stderr).toBe(0);
    expect(parseJson(result)).toEqual({ cancelled: 1, ids: [id], inFlight: 0, alreadyFinal: 0, notFound: 1 });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--all');
  });
});
