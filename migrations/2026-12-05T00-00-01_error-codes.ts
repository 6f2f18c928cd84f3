/**
 * Stable error codes beside the human reasons, and the count of jobs whose outcome a vendor's
 * results did not confirm.
 *
 * Why: metrics and operators grouped failures by parsing message text, which changes whenever a
 * message is reworded. `error_code` is one of the router's stable codes (src/manager/error-codes.ts)
 * and `vendor_code` the vendor's own (Marketo `1004`, Salesforce `DUPLICATE_VALUE`), both of the
 * most recent failure, like `last_error`. `unconfirmed_jobs` on an import makes a vendor whose
 * totals and listed rows disagree visible on the import itself, not only in each job's reason.
 * All columns are nullable or defaulted, so adding them rewrites no table.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE br_jobs ADD COLUMN error_code text, ADD COLUMN vendor_code text`.execute(db);
  await sql`ALTER TABLE br_uploads ADD COLUMN error_code text`.execute(db);
  await sql`ALTER TABLE br_imports ADD COLUMN error_code text,
            ADD COLUMN unconfirmed_jobs integer NOT NULL DEFAULT 0`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE br_imports DROP COLUMN unconfirmed_jobs, DROP COLUMN error_code`.execute(db);
  await sql`ALTER TABLE br_uploads DROP COLUMN error_code`.execute(db);
  await sql`ALTER TABLE br_jobs DROP COLUMN vendor_code, DROP COLUMN error_code`.execute(db);
}
