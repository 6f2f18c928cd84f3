/**
 * The retry schedule written by a failure: the jobs of one failed upload share one jittered delay
 * (so they go out again as one batch), while separate failures draw separate delays.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import { scheduleRetries } from '../../src/store/jobs.transitions.ts';
import { databaseForFile } from '../helpers/file-database.ts';

const policy = { maxAttempts: 5, retryWindowMs: 3_600_000, minBackoffMs: 60_000, maxBackoffMs: 600_000 };

describe('retry schedule', () => {
  const t = databaseForFile();

  async function executingUpload(uploadId: string, n: number): Promise<string[]> {
    const ids = await insertJobs(t.db, 'd', Array.from({ length: n }, (_, i) => JSON.stringify({ i })));
    await sql`UPDATE br_jobs SET state = 'executing', attempts = 1, upload_id = ${uploadId}::bigint WHERE id = ANY(${ids}::bigint[])`.execute(t.db);
    return ids;
  }

  async function delaysMs(ids: readonly string[]): Promise<number[]> {
    const { rows } = await sql<{ ms: number }>`
      SELECT extract(epoch FROM next_attempt_at - updated_at)::double precision * 1000 AS ms
      FROM br_jobs WHERE id = ANY(${ids}::bigint[])
    `.execute(t.db);
    return rows.map((r) => r.ms);
  }

  it('gives every job of one failed upload the same jittered delay, within the backoff range', async () => {
    const ids = await executingUpload('1', 50);
    const fail = ids.map((jobId) => ({ jobId, error: 'HTTP 503', code: 'vendor_unavailable' as const }));
    expect(await scheduleRetries(t.db, { state: 'executing', uploadId: '1' }, fail, policy, false)).toEqual({ retried: 50, aborted: 0 });
    const delays = await delaysMs(ids);
    expect(new Set(delays.map((ms) => Math.round(ms))).size).toBe(1);
    expect(delays[0]).toBeGreaterThanOrEqual(30_000);
    expect(delays[0]).toBeLessThanOrEqual(60_000);
  });

  it('draws a new delay for each failure, so separate uploads do not retry in lockstep', async () => {
    const seen = new Set<number>();
    for (let upload = 1; upload <= 8; upload++) {
      const ids = await executingUpload(String(upload), 2);
      await scheduleRetries(t.db, { state: 'executing', uploadId: String(upload) }, ids.map((jobId) => ({ jobId, error: 'HTTP 503', code: 'vendor_unavailable' as const })), policy, false);
      seen.add(Math.round((await delaysMs(ids))[0]!));
    }
    // Eight draws from a 30 s range: the chance of fewer than 2 distinct whole-ms values is nil.
    expect(seen.size).toBeGreaterThan(1);
  });
});
