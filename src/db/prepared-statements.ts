/**
 * Named (server-side prepared) statements for the router's hot path. A statement whose SQL text
 * starts with `PREPARED` is sent under a name derived from its text, so each pooled connection
 * parses and analyses it once and PostgreSQL may then reuse a generic plan instead of planning it
 * on every call: planning the claim over partitioned job tables cost more than a millisecond per
 * upload, a fixed cost that dominated small uploads (500 jobs).
 *
 * Only for a PostgreSQL server. The embedded database serves every pooled connection from one
 * PGlite session, where two connections preparing the same name would collide. Behind a pooler
 * in transaction mode, named statements need its support for them (PgBouncer 1.21+
 * `max_prepared_statements`); `BATCH_ROUTER_PREPARED_STATEMENTS=false` turns them off.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';

/** Leading comment that marks a statement for preparing. Texts must be fixed: values go in parameters. */
export const PREPARED = '/* br:prepared */';

const names = new Map<string, string>();

function nameOf(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `br_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    names.set(text, name);
  }
  return name;
}

/** A pg client that sends marked statements as named ones; everything else goes through unchanged. */
export class PreparingClient extends pg.Client {
  override query(...args: unknown[]): never {
    const [config, values] = args;
    if (typeof config === 'string' && config.startsWith(PREPARED) && (Array.isArray(values) || values === undefined)) {
      const named = { name: nameOf(config), text: config, values: values as unknown[] | undefined };
      return (super.query as (...a: unknown[]) => never)(named, ...args.slice(2));
    }
    return (super.query as (...a: unknown[]) => never)(...args);
  }
}

/** Put first in a `sql` template to mark the statement: sql`${prepared}SELECT ...`. */
export const prepared = sql.raw(`${PREPARED}\n`);
