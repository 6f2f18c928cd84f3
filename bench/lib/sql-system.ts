/**
 * The shape shared by the systems that are a few statements of SQL and a consumer script (the SQL
 * floors and the delivery ceiling): a schema created in the fresh database, one enqueue statement
 * taking the batch as `$1::text[]`, and two reads the workload polls. Each system's file keeps its
 * own SQL and says why it is shaped that way; this module only wires it to the workload.
 */
import pg from 'pg';
import { spawnBenchChild } from './child.ts';
import type { BurnDownSystem, PreparedSystem } from './types.ts';

export interface SqlSystemShape {
  name: string;
  /** Passed to the consumer as BENCH_SETTINGS and copied into latest.json. */
  settings: Readonly<{ batchSize: number; loops: number }>;
  schema: string;
  /** Enqueues one batch; `$1` is the batch's event texts as `text[]`. */
  enqueueSql: string;
  /** One row with a boolean `drained`: nothing waiting or in flight. Polled while the clock runs. */
  drainedSql: string;
  /** One row with `n`: jobs in a final state. */
  finalCountSql: string;
  /** The consumer process, relative to bench/ (e.g. `consumers/sql-floor.ts`). */
  consumerScript: string;
}

export function sqlSystem(shape: SqlSystemShape): BurnDownSystem {
  return {
    name: shape.name,
    ingestName: `${shape.name}-insert`,
    settings: { ...shape.settings, schema: shape.schema.replace(/\s+/g, ' ').trim() },
    prepare: (databaseUrl) => prepare(databaseUrl, shape),
  };
}

async function prepare(databaseUrl: string, shape: SqlSystemShape): Promise<PreparedSystem> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(shape.schema);
  return {
    async enqueue(events) {
      await client.query(shape.enqueueSql, [events]);
    },
    async drained() {
      const { rows } = await client.query<{ drained: boolean }>(shape.drainedSql);
      return rows[0]!.drained;
    },
    async finalCount() {
      const { rows } = await client.query<{ n: string }>(shape.finalCountSql);
      return Number(rows[0]!.n);
    },
    spawnConsumer: ({ sinkUrl }) =>
      spawnBenchChild(shape.consumerScript, {
        DATABASE_URL: databaseUrl,
        BENCH_SINK_URL: sinkUrl,
        BENCH_SETTINGS: JSON.stringify(shape.settings),
      }),
    close: () => client.end(),
  };
}
