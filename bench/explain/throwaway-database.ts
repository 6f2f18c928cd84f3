/**
 * What the EXPLAIN scripts share: a database made for one run (dropped and created again each
 * time, next to the one DATABASE_ADMIN_URL names) with the schema migrated, and EXPLAIN ANALYZE of
 * one statement reduced to the figures the scripts print.
 */
import pg from 'pg';
import { Kysely, PostgresDialect, type RawBuilder } from 'kysely';
import { migrateToLatest } from '../../src/db/migrate.ts';

const ADMIN = process.env.DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Creates database `name` afresh and migrates it. `db` has one connection, so a session setting
 * made through it holds for every statement after; `client` is for bulk loading.
 */
export async function throwawayDatabase(name: string): Promise<{ db: Kysely<any>; client: pg.Client }> {
  const admin = new pg.Client({ connectionString: ADMIN });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN);
  url.pathname = `/${name}`;
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url.toString(), max: 1 }) }) });
  await migrateToLatest(db);
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  return { db, client };
}

export interface Explained {
  executionMs: number;
  /** Shared buffers hit or read by the whole plan. */
  buffers: number;
  /** Rows the plan returned. */
  rows: number;
}

export async function explainAnalyze(db: Kysely<any>, query: RawBuilder<unknown>): Promise<Explained> {
  const compiled = query.compile(db);
  const { rows } = await db.executeQuery<{ 'QUERY PLAN': unknown }>({
    ...compiled, sql: `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${compiled.sql}`,
  } as typeof compiled);
  type Plan = { 'Execution Time': number; Plan: { 'Shared Hit Blocks': number; 'Shared Read Blocks': number; 'Actual Rows': number } };
  const plan = (rows[0]!['QUERY PLAN'] as Plan[])[0]!;
  return {
    executionMs: plan['Execution Time'],
    buffers: plan.Plan['Shared Hit Blocks'] + plan.Plan['Shared Read Blocks'],
    rows: plan.Plan['Actual Rows'],
  };
}
