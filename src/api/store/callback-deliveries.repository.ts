/**
 * SQL for `br_callback_deliveries`: one row per callback event (a submission reaching a final
 * state), retried on a schedule. Attempts are claimed under a lease with SKIP LOCKED so several
 * processes share the sending and none sends an attempt another is already sending; a process
 * that dies mid-attempt lets its lease lapse and the attempt is made again (at-least-once: the
 * unchanged `webhook-id` lets the receiver drop the duplicate).
 */
import { sql, type Kysely } from 'kysely';
import type { CallbackDeliveryRow, CallbackState, Database } from '../../db/schema.ts';

type Db = Kysely<Database>;
const ms = (value: number) => sql`${value}::double precision * interval '1 millisecond'`;

/** Queues callback events; the first attempt is due `firstAttemptInMs` from now (database time). */
export async function insertDeliveries(
  db: Db,
  items: ReadonlyArray<{ id: string; submissionId: string; url: string; body: string }>,
  firstAttemptInMs: number,
): Promise<void> {
  if (items.length === 0) return;
  await sql`
    INSERT INTO br_callback_deliveries (id, submission_id, url, body, next_attempt_at)
    SELECT t.id, t.submission_id, t.url, t.body, now() + ${ms(firstAttemptInMs)}
    FROM unnest(${items.map((i) => i.id)}::text[], ${items.map((i) => i.submissionId)}::text[],
                ${items.map((i) => i.url)}::text[], ${items.map((i) => i.body)}::text[]) AS t(id, submission_id, url, body)
  `.execute(db);
}

/** Takes up to `limit` due attempts for `owner`, leased for `leaseMs` (longer than one attempt may take). */
export async function claimDueDeliveries(
  db: Db,
  options: { owner: string; leaseMs: number; limit: number },
): Promise<CallbackDeliveryRow[]> {
  const { rows } = await sql<CallbackDeliveryRow>`
    UPDATE br_callback_deliveries SET lease_owner = ${options.owner}, lease_expires_at = now() + ${ms(options.leaseMs)}
    WHERE id IN (
      SELECT id FROM br_callback_deliveries
      WHERE state = 'pending' AND next_attempt_at <= now()
        AND (lease_expires_at IS NULL OR lease_expires_at < now())
      ORDER BY next_attempt_at LIMIT ${options.limit}
      FOR UPDATE SKIP LOCKED)
    RETURNING *
  `.execute(db);
  return rows;
}

export interface AttemptRecord {
  id: string;
  owner: string;
  /** `pending` schedules another attempt in `retryInMs`. */
  state: CallbackState;
  status: number | null;
  error: string | null;
  retryInMs?: number;
}

/** Records one attempt if `owner` still holds the lease (false: another process took it over). */
export async function recordAttempt(db: Db, attempt: AttemptRecord): Promise<boolean> {
  const result = await sql`
    UPDATE br_callback_deliveries SET state = ${attempt.state}, attempts = attempts + 1,
      last_status = ${attempt.status}, last_error = ${attempt.error}, last_attempt_at = now(),
      next_attempt_at = CASE WHEN ${attempt.state} = 'pending' THEN now() + ${ms(attempt.retryInMs ?? 0)} ELSE next_attempt_at END,
      finished_at = CASE WHEN ${attempt.state} = 'pending' THEN NULL ELSE now() END,
      lease_owner = NULL, lease_expires_at = NULL
    WHERE id = ${attempt.id} AND state = 'pending' AND lease_owner = ${attempt.owner}
  `.execute(db);
  return Number(result.numAffectedRows ?? 0n) === 1;
}

/** The most recent callback of a submission (a reopened submission may have had earlier ones). */
export async function latestDeliveryOf(db: Db, submissionId: string): Promise<CallbackDeliveryRow | undefined> {
  return db
    .selectFrom('br_callback_deliveries')
    .selectAll()
    .where('submission_id', '=', submissionId)
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}
