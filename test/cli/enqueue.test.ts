/**
 * `batch-router enqueue` as a real child process against a real database: what it prints, what
 * lands in br_jobs/br_job_payloads, and its exit codes. `--wait` is driven by updating rows from
 * the test (no daemon runs), so the CLI's view of completion is tested without delivery timing.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/database.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { cliWorkspace, parseJson, runCli, startCli, type CliWorkspace } from './cli-runner.ts';

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

async function jobsOf(submissionId: string) {
  return t.db.selectFrom('br_jobs').selectAll().where('submission_id', '=', submissionId).orderBy('id').execute();
}

async function payloadsOf(ids: readonly string[]) {
  const rows = await t.db.selectFrom('br_job_payloads').selectAll().where('job_id', 'in', [...ids]).orderBy('job_id').execute();
  return rows.map((row) => row.payload);
}

describe('batch-router enqueue', () => {
  it('enqueues every line of a file, prints the id range, and stores the payloads', async () => {
    const file = ws.file('events.ndjson', '{"n":1}\n{"n":2}\n\n  {"n":3,"nested":{"a":[1,"x"]}}  \r\n');
    const result = await runCli(['enqueue', 'demo-files', file, '--submission', 's-file'], ws.env);
    expect(result.code, result.stderr).toBe(0);
    const match = /^enqueued 3 jobs to demo-files: ids (\d+)–(\d+)$/m.exec(result.stdout);
    expect(match, result.stdout).not.toBeNull();

    const jobs = await jobsOf('s-file');
    expect(jobs.map((job) => job.id)).toEqual(['0', '1', '2'].map((k) => String(BigInt(match![1]!) + BigInt(k))));
    expect(jobs.at(-1)!.id).toBe(match![2]);
    expect(jobs.every((job) => job.state === 'waiting' && job.destination_id === 'demo-files')).toBe(true);
    // Stored as the trimmed line, byte for byte: what a pass-through manager will send.
    expect(await payloadsOf(jobs.map((job) => job.id))).toEqual(['{"n":1}', '{"n":2}', '{"n":3,"nested":{"a":[1,"x"]}}']);
  });

  it('reads stdin line by line and reports in JSON', async () => {
    const result = await runCli(['enqueue', 'demo-files', '-', '--json'], ws.env, '{"from":"stdin","i":1}\n{"from":"stdin","i":2}');
    expect(result.code, result.stderr).toBe(0);
    const report = parseJson<{ destinationId: string; submissionId: string; enqueued: number; ranges: Array<{ first: string; last: string }> }>(result);
    expect(report).toMatchObject({ destinationId: 'demo-files', enqueued: 2 });
    expect(report.submissionId).toMatch(/^cli-/);
    const jobs = await jobsOf(report.submissionId);
    expect(jobs.map((job) => job.id)).toEqual([report.ranges[0]!.first, report.ranges[0]!.last]);
    expect(await payloadsOf(jobs.map((job) => job.id))).toEqual(['{"from":"stdin","i":1}', '{"from":"stdin","i":2}']);
  });

  it('stops at a line that is not a JSON object, names it, and enqueues nothing from that batch', async () => {
    const file = ws.file('bad.ndjson', '{"ok":1}\n[1,2]\n{"ok":3}\n');
    const result = await runCli(['enqueue', 'demo-files', file, '--submission', 's-bad'], ws.env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('line 2: expected a JSON object');
    expect(result.stderr).toContain('Nothing was enqueued');
    expect(await jobsOf('s-bad')).toHaveLength(0);
  });

  it('keeps the batches before a bad line and says how to send the rest', async () => {
    const lines = Array.from({ length: 5001 }, (_, i) => JSON.stringify({ i }));
    lines.push('{"broken": ');
    const file = ws.file('big.ndjson', `${lines.join('\n')}\n`);
    const result = await runCli(['enqueue', 'demo-files', file, '--submission', 's-big'], ws.env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('line 5002: not valid JSON');
    expect(result.stderr).toContain('5000 jobs from lines 1–5000');
    expect(result.stderr).toContain('tail -n +5001');
    expect(await jobsOf('s-big')).toHaveLength(5000);
  });

  it('refuses an id missing from the destinations file, listing the known ones, unless --force', async () => {
    const file = ws.file('one.ndjson', '{"x":1}\n');
    const [refused, forced] = await Promise.all([
      runCli(['enqueue', 'nope', file], ws.env),
      runCli(['enqueue', 'forced-id', file, '--force'], ws.env),
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('unknown destination "nope"');
    expect(refused.stderr).toContain('demo-files');
    expect(refused.stderr).toContain('--force');
    expect(await t.db.selectFrom('br_jobs').select('id').where('destination_id', '=', 'nope').execute()).toHaveLength(0);

    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/^enqueued 1 job to forced-id: id \d+$/m);
  });

  describe('--wait', () => {
    /** Starts `enqueue --wait` and resolves once its jobs are in the database. */
    async function startWaiting(submissionId: string, extra: string[] = []) {
      const file = ws.file(`${submissionId}.ndjson`, '{"a":1}\n{"a":2}\n{"a":3}\n');
      const cli = startCli(['enqueue', 'demo-files', file, '--wait', '--submission', submissionId, ...extra], ws.env);
      await waitFor(() => /^enqueued 3 jobs/m.test(cli.stdout()), { message: `${submissionId}: the jobs are enqueued` });
      return cli;
    }

    const finish = (submissionId: string, state: string, condition = sql`true`) =>
      sql`UPDATE br_jobs SET state = ${state}, finished_at = now(), reason = ${state === 'aborted' ? 'rejected by vendor' : null}
          WHERE submission_id = ${submissionId} AND ${condition}`.execute(t.db);

    it('exits 0 once every job succeeded', async () => {
      const cli = await startWaiting('s-wait-ok', ['--timeout', '60']);
      await sql`UPDATE br_jobs SET state = 'executing' WHERE submission_id = 's-wait-ok'`.execute(t.db);
      await finish('s-wait-ok', 'succeeded');
      const result = await cli.exited;
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('all 3 jobs succeeded');
      expect(result.stderr).toContain('3/3 final');
    });

    it('exits 3 when a job is aborted', async () => {
      const cli = await startWaiting('s-wait-abort');
      const [first] = await jobsOf('s-wait-abort');
      await finish('s-wait-abort', 'aborted', sql`id = ${first!.id}`);
      await finish('s-wait-abort', 'succeeded', sql`id <> ${first!.id}`);
      const result = await cli.exited;
      expect(result.code, result.stderr).toBe(3);
      expect(result.stdout).toContain('2 succeeded, 1 aborted, 0 cancelled');
    });

    it('exits 4 when --timeout passes first, leaving the jobs alone', async () => {
      const file = ws.file('timeout.ndjson', '{"a":1}\n');
      const result = await runCli(['enqueue', 'demo-files', file, '--wait', '--timeout', '0.5', '--submission', 's-wait-timeout'], ws.env);
      expect(result.code, result.stderr).toBe(4);
      expect(result.stderr).toContain('gave up waiting');
      expect((await jobsOf('s-wait-timeout')).map((job) => job.state)).toEqual(['waiting']);
    });
  });
});
