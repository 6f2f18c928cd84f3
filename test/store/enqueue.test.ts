/**
 * Store conformance: enqueue. Every event is stored byte for byte under an id in input order,
 * however the batch travels to the server (one text split by the server, or an array when a text
 * holds the separator or is empty), and each job starts waiting with its payload's size.
 */
import { describe, expect, it } from 'vitest';
import { insertJobs } from '../../src/store/jobs.repository.ts';
import { readPayloadTexts } from '../../src/store/job-payloads.repository.ts';
import { DEST, storeFixture } from './store-fixture.ts';

const ordinary = [
  JSON.stringify({ type: 'track', text: 'ünïcödé ✓ 😀', escaped: '\u001e\u0001 tab\t newline\n' }),
  '{\t"spaced" :\r\n [1, 2 ]}',
  JSON.stringify({ n: 2 }),
];

describe('store: enqueue', () => {
  const s = storeFixture();

  async function roundTrip(events: string[]): Promise<void> {
    const ids = await insertJobs(s.t.db, DEST, events);
    expect(ids).toHaveLength(events.length);
    expect(ids.map(BigInt)).toEqual([...ids.map(BigInt)].sort((a, b) => (a < b ? -1 : 1)));
    const stored = await readPayloadTexts(s.t.db, ids);
    expect(ids.map((id) => stored.get(id))).toEqual(events);
    for (const [i, id] of ids.slice(0, 5).entries()) {
      const job = await s.job(id);
      expect({ state: job.state, bytes: Number(job.payload_bytes) }).toEqual({ state: 'waiting', bytes: Buffer.byteLength(events[i]!) });
    }
  }

  it('stores JSON texts byte for byte, in input order (escaped control characters included)', async () => {
    await roundTrip(ordinary);
  });

  it('stores a text holding a raw record separator, or an empty text, unchanged and unsplit', async () => {
    await roundTrip([ordinary[0]!, 'a\u001eb', '\u001e', ordinary[2]!]);
    await roundTrip(['', ordinary[1]!]);
  });

  it('stores a batch of one, and a large batch, in order', async () => {
    await roundTrip([ordinary[2]!]);
    await roundTrip(Array.from({ length: 5000 }, (_, n) => JSON.stringify({ n, pad: 'x'.repeat(n % 50) })));
  });
});
