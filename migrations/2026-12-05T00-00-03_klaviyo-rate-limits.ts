/**
 * One token bucket per Klaviyo account, shared by every process and destination using its key.
 *
 * Why: Klaviyo rate-limits per account (burst per second, steady per minute), so a bucket kept in
 * each process lets N processes, or two destinations with one key, send N times the budget and
 * live on 429s. `account` is a SHA-256 of the API key, never the key itself; `tokens` may go
 * negative: a caller that takes a token the bucket does not have yet has reserved a future one
 * and waits for it (managers/klaviyo-bulk-import/shared-rate-limit.ts). `held_until` is set from
 * a 429's Retry-After so every process pauses, not only the one that was told.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE TABLE br_klaviyo_rate_limits (
    account text PRIMARY KEY,
    tokens double precision NOT NULL,
    refilled_at timestamptz NOT NULL,
    held_until timestamptz NOT NULL DEFAULT 'epoch'
  )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE br_klaviyo_rate_limits`.execute(db);
}
