/**
 * Pins the property the Citus layout rests on (docs/store-design.md, "Scaling past one database"):
 * every statement the router's hot path sends to the job tables names its destination, so a
 * store distributed by `destination_id` routes it to one shard. The router runs end to end on a
 * connection that records each SQL text; every reference to a distributed table must carry a
 * destination predicate (or, for an INSERT, a destination_id column), except the listed
 * statements that are known to fan out and why that is acceptable.
 */
import { describe, expect, it } from 'vitest';
import { Kysely, PostgresDialect } from 'kysely';
import type { Database } from '../../src/db/schema.ts';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import { RetryableError } from '../../src/manager/errors.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { sampleEvents } from '../helpers/router.ts';
import { scriptedManager, testDestination } from '../helpers/scripted-manager.ts';
import { routerFixture } from './fixture.ts';

const DISTRIBUTED = ['br_job_rows', 'br_job_payloads', 'br_job_exceptions', 'br_claim_cursors', 'br_uploads', 'br_imports', 'br_jobs'];

/**
 * Payloads key by job id only: the Citus migration adds destination_id to them (and these joins
 * gain it); until then a reference to them is the one unscoped part a statement may have.
 */
const NOT_YET_SCOPED = 'br_job_payloads';

/**
 * The "no exception row" probe of the scans above the cursor (src/store/claim-gate.ts,
 * noExceptionRow) keys by job id and compares the destination in its result, so that stale
 * statistics cannot steer it to a destination index; the row it probes for lives on the outer
 * job's shard. On Citus it takes `e.destination_id = r.destination_id` into its condition
 * (docs/store-design.md, "Scaling past one database"). Taken out before a statement is checked.
 */
const PROBE_BY_JOB_ID = /\(SELECT e\.destination_id FROM br_job_exceptions e WHERE e\.job_id = r\.id\) IS DISTINCT FROM r\.destination_id/g;

/**
 * The same for the count of an upload's range's exception rows at its end (src/store/upload-success.ts,
 * exceptionRowsInRangeSql): keyed by the range of job ids, the destination compared in the result.
 */
const COUNT_BY_JOB_RANGE =
  /\(SELECT count\(\*\) FROM br_job_exceptions x WHERE x\.job_id BETWEEN (\w)\.first_job_id AND \1\.last_job_id AND x\.destination_id IS NOT DISTINCT FROM \1\.destination_id\)/g;

/** Statements allowed to reach more than one shard, each with the reason it is acceptable. */
const FAN_OUT: ReadonlyArray<{ pattern: RegExp; why: string }> = [
  { pattern: /^UPDATE br_imports SET lease_owner = .* destination_id = ANY\(/, why: 'the poll loop claims due imports of all its destinations at once (see the design doc: per destination on Citus)' },
  { pattern: /br_ensure_job_partitions|pg_stat_user_tables|pg_inherits/, why: 'partition upkeep (sweeper, every few seconds): DDL and catalog reads' },
  { pattern: /^DELETE FROM br_uploads/, why: 'retention of finished uploads (sweeper): cold, batched' },
];

/** The references `FROM|JOIN|UPDATE|INTO <table> [alias]` to distributed tables in one statement. */
function tableReferences(text: string): Array<{ table: string; alias: string | undefined; insert: boolean }> {
  const refs = [];
  const pattern = /\b(FROM|JOIN|UPDATE|INTO)\s+(br_\w+)(?:\s+(?:AS\s+)?(?!WHERE\b|SET\b|ON\b|JOIN\b|LEFT\b|GROUP\b|ORDER\b|LIMIT\b|FOR\b|SELECT\b|VALUES\b|RETURNING\b|UNION\b)([a-z]\w*))?/gi;
  for (const m of text.matchAll(pattern)) {
    if (!DISTRIBUTED.includes(m[2]!)) continue;
    refs.push({ table: m[2]!, alias: m[3], insert: m[1]!.toUpperCase() === 'INTO' });
  }
  return refs;
}

/** Why a statement is not single-destination, or undefined when every reference is scoped. */
function unscoped(statement: string): string | undefined {
  const text = statement.replace(PROBE_BY_JOB_ID, 'true').replace(COUNT_BY_JOB_RANGE, '0');
  for (const ref of tableReferences(text)) {
    if (ref.table === NOT_YET_SCOPED) continue;
    if (ref.insert) {
      if (!new RegExp(`INTO ${ref.table}\\s*\\([^)]*\\bdestination_id\\b`).test(text)) return `INSERT INTO ${ref.table} without destination_id`;
      continue;
    }
    const scoped = ref.alias
      ? new RegExp(`\\b${ref.alias}\\.destination_id\\s*=|=\\s*${ref.alias}\\.destination_id\\b`).test(text)
      : /(^|[^.\w])destination_id\s*=/.test(text);
    if (!scoped) return `${ref.table}${ref.alias ? ` ${ref.alias}` : ''} has no destination predicate`;
  }
  return undefined;
}

describe('single-destination statements', () => {
  const { t, start } = routerFixture();

  it('every hot-path statement on the job tables names its destination', async () => {
    const statements = new Set<string>();
    // A second Kysely over the file's pool, recording every statement's text; not destroyed (the pool is the file's).
    const recorded = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: t.pool }),
      log: (event) => {
        if (event.level === 'query') statements.add(event.query.sql.replace(/^\s*\/\*.*?\*\//, '').replaceAll('"', '').replace(/\s+/g, ' ').trim());
      },
    });
    let attempts = 0;
    const plain = scriptedManager({
      upload: async (batch) => {
        attempts += 1;
        // The first send fails as a whole (upload retry, re-claim of its jobs), the second
        // splits into a per-job retry, an abort and plain successes, later ones all succeed.
        if (attempts === 1) throw new RetryableError('vendor answered 503');
        const [a, b, ...rest] = batch.jobIds;
        if (attempts > 2) return { outcomes: batch.jobIds.map((jobId) => ({ jobId, kind: 'succeeded' as const })) };
        return {
          outcomes: [
            { jobId: a!, kind: 'retry', reason: 'row throttled' },
            { jobId: b!, kind: 'aborted', reason: 'email is not valid' },
            ...rest.map((jobId) => ({ jobId, kind: 'succeeded' as const })),
          ],
        };
      },
    });
    const importing = scriptedManager({
      upload: async (batch) => ({ outcomes: [], imports: [{ handle: { vendorId: batch.uploadId }, jobs: batch.jobIds.map((jobId) => ({ jobId, correlationKey: jobId })) }] }),
      poll: async () => ({ status: 'completed', hasRecordFailures: false }),
    }, 'importing');
    await insertJobs(recorded, 'dest-plain', sampleEvents(6));
    await insertJobs(recorded, 'dest-import', sampleEvents(4));
    const fast = { minBackoffMs: 10, maxBackoffMs: 20, uploadIntervalMs: 10 };
    start([testDestination(plain.manager, 'dest-plain', fast), testDestination(importing.manager, 'dest-import', fast)], {}, recorded);
    await waitFor(async () => {
      const open = await t.db.selectFrom('br_jobs').select('id').where('state', 'not in', ['succeeded', 'aborted']).execute();
      return open.length === 0 && attempts >= 3;
    }, { message: 'every job of both destinations reaches a final state', timeoutMs: 15_000 });

    const touching = [...statements].filter((s) => DISTRIBUTED.some((table) => s.includes(table)));
    expect(touching.length).toBeGreaterThan(15);
    const offenders = touching
      .filter((s) => !FAN_OUT.some((f) => f.pattern.test(s)))
      .map((s) => ({ statement: s, problem: unscoped(s) }))
      .filter((o) => o.problem !== undefined);
    expect(offenders).toEqual([]);
  });
});
