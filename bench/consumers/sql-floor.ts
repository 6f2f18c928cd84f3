/**
 * Consumer of the "sql-floor" system (bench/systems/sql-floor.ts): `loops` tight loops, each on
 * its own connection, each doing claim → POST → mark final until nothing is left to claim.
 * Both statements autocommit: the claim's UPDATE to state 1 is what keeps the other loop away.
 */
import type pg from 'pg';
import { postBatch } from '../lib/post.ts';
import { connectLoops, serveSqlLoops } from '../lib/sql-loops.ts';

const { settings, url, clients } = await connectLoops();

const CLAIM = `
  WITH picked AS (
    SELECT id FROM floor.jobs WHERE state = 0 ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
  )
  UPDATE floor.jobs j SET state = 1 FROM picked WHERE j.id = picked.id
  RETURNING j.id::text AS id, j.payload`;
const FINISH = 'UPDATE floor.jobs SET state = 2 WHERE id = ANY($1::bigint[])';
const RETRY = 'UPDATE floor.jobs SET state = 0 WHERE id = ANY($1::bigint[])';
const RETRY_DELAY_MS = 1000;

async function loop(client: pg.Client, stopping: () => boolean): Promise<void> {
  while (!stopping()) {
    const { rows } = await client.query<{ id: string; payload: string }>({ text: CLAIM, values: [settings.batchSize], name: 'claim' });
    if (rows.length === 0) {
      // Burn-down: an empty claim means the backlog is gone (or the other loop holds the rest).
      await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    const ids = rows.map((r) => r.id);
    try {
      await postBatch(url, rows.map((r) => r.payload));
    } catch {
      // W3: the batch goes back to waiting after RETRY_DELAY_MS (the same first delay as the
      // other systems'), while this loop carries on with the next batch.
      setTimeout(() => void client.query({ text: RETRY, values: [ids], name: 'retry' }).catch(() => undefined), RETRY_DELAY_MS);
      continue;
    }
    await client.query({ text: FINISH, values: [ids], name: 'finish' });
  }
}

serveSqlLoops('sql-floor', settings, clients, loop);
