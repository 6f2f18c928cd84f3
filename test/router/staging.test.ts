/**
 * Staging files round-trip every row exactly: transformed rows and pass-through JSON texts alike,
 * across write and read chunk boundaries, with multi-byte characters, and with the summed row
 * bytes a manager splits files by.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { readStagingFile, removeStagingFile, stageRows, stagedBatch, writeStagingFile, type StagedEntry } from '../../src/router/staging.ts';

describe('staging files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'br-staging-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads back every row, id and byte count written, across chunk boundaries', async () => {
    // ~2,000 rows of ~400 characters: several write chunks and read chunks, lines split between them.
    const entries: StagedEntry[] = Array.from({ length: 2_000 }, (_, i) => {
      const jobId = String(1_000_000 + i);
      const event = { i, name: `Zoë ${'ü'.repeat(i % 50)} 😀`, note: 'line\nbreak "quoted" \\ slash', pad: 'x'.repeat(300) };
      return i % 2 === 0 ? { jobId, row: event } : { jobId, json: JSON.stringify(event) };
    });
    const path = join(dir, 'upload-1.ndjson');
    const file = await writeStagingFile(path, entries);

    const expectedJson = entries.map((e) => e.json ?? JSON.stringify(e.row));
    expect(file.jobIds).toEqual(entries.map((e) => e.jobId));
    expect(file.bytes).toBe(expectedJson.reduce((sum, json) => sum + Buffer.byteLength(json), 0));
    expect((await readFile(path, 'utf8')).split('\n')).toHaveLength(entries.length + 1);

    const read = [];
    for await (const row of readStagingFile<{ i: number; name: string }>(path)) read.push(row);
    expect(read.map((r) => r.jobId)).toEqual(file.jobIds);
    expect(read.map((r) => r.json)).toEqual(expectedJson);
    expect(read.map((r) => r.bytes)).toEqual(expectedJson.map((json) => Buffer.byteLength(json)));
    expect(read[1_999]!.row).toEqual(JSON.parse(expectedJson[1_999]!));
    expect(read[1_999]!.row.name.endsWith('😀')).toBe(true);
  });

  it('writes an empty file for no rows and reads nothing back', async () => {
    const path = join(dir, 'upload-2.ndjson');
    const file = await writeStagingFile(path, []);
    expect(file).toMatchObject({ jobIds: [], bytes: 0 });
    const read = [];
    for await (const row of readStagingFile(path)) read.push(row);
    expect(read).toEqual([]);
  });

  it('keeps a batch within the memory limit in memory and spills a bigger one to a file', async () => {
    const entries: StagedEntry[] = Array.from({ length: 100 }, (_, i) => (i % 2 === 0
      ? { jobId: String(i + 1), row: { i, text: 'é'.repeat(40) } }
      : { jobId: String(i + 1), json: JSON.stringify({ i, text: 'é'.repeat(40) }) }));
    const total = entries.reduce((sum, e) => sum + Buffer.byteLength(e.json ?? JSON.stringify(e.row)), 0);
    const sub = join(dir, 'limits');

    const held = await stageRows(join(sub, 'upload-held.ndjson'), entries, total);
    expect(held).toMatchObject({ path: null, bytes: total });
    const spilled = await stageRows(join(sub, 'upload-spilled.ndjson'), entries, total - 1);
    expect(spilled).toMatchObject({ path: join(sub, 'upload-spilled.ndjson'), bytes: total });
    expect(await readdir(sub)).toEqual(['upload-spilled.ndjson']);

    // The manager reads the same rows either way, and may read them twice.
    const read = async (file: typeof held) => {
      const batch = stagedBatch<{ i: number }>(file, { uploadId: '1', destinationId: 'd', uploadAttempt: 1, createdAt: 0 });
      const rows = [];
      for (let pass = 0; pass < 2; pass++) for await (const row of batch.rows()) rows.push([row.jobId, row.json, row.bytes, row.row.i]);
      return rows;
    };
    expect(await read(held)).toEqual(await read(spilled));
    expect((await read(held))).toHaveLength(200);

    await removeStagingFile(spilled);
    await removeStagingFile(held);
    expect(await readdir(sub)).toEqual([]);
  });
});
