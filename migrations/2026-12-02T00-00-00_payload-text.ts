/**
 * Events are stored as the JSON text they arrived as (`text`), no longer as `jsonb`.
 *
 * Why: the store never looks inside an event. `jsonb` made PostgreSQL parse every event on insert
 * and print it again on every read, and made pg parse it into an object in the daemon, only for
 * the router to serialise it straight back into a staging file; for a webhook that is most of the
 * daemon's CPU per job. As text, an event reaches a pass-through manager byte for byte as it was
 * accepted, and `payload_bytes` (counted at insert) is exactly what gets staged, so byte caps on
 * uploads hold. Ingest (API and CLI) already validates every event as a JSON object before insert,
 * which is the guarantee `jsonb` gave.
 *
 * Existing rows are converted with jsonb's own text form (valid JSON, canonical spacing).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE br_job_payloads ALTER COLUMN payload TYPE text USING payload::text`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE br_job_payloads ALTER COLUMN payload TYPE jsonb USING payload::jsonb`.execute(db);
}
