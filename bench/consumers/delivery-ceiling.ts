/**
 * Consumer of "delivery-ceiling" (bench/systems/delivery-ceiling.ts). Before it reports ready it
 * reads the whole backlog into memory, cut into batches in id order; that read is not timed. Each
 * loop then takes the next batch, POSTs it and inserts one `uploads` row, until none is left.
 */
import type pg from 'pg';
import { postBatch } from '../lib/post.ts';
import { connectLoops, serveSqlLoops } from '../lib/sql-loops.ts';

const { settings, url, clients } = await connectLoops();

const { rows } = await clients[0]!.query<{ payload: string }>('SELECT payload FROM ceiling.jobs ORDER BY id');
const batches: string[][] = [];
for (let at = 0; at < rows.length; at += settings.batchSize) batches.push(rows.slice(at, at + settings.batchSize).map((r) => r.payload));
let next = 0;

async function loop(client: pg.Client, stopping: () => boolean): Promise<void> {
  while (!stopping() && next < batches.length) {
    const batch = batches[next++]!;
    // No retry: the ceiling runs in W1 only, where the sink accepts every request.
    await postBatch(url, batch);
    await client.query({ text: 'INSERT INTO ceiling.uploads (jobs) VALUES ($1)', values: [batch.length], name: 'record' });
  }
}

serveSqlLoops('delivery-ceiling', settings, clients, loop);
