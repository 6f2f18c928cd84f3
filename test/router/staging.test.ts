/**
 * Staging files round-trip every row exactly: transformed rows and pass-through JSON texts alike,
 * across write and read chunk boundaries, with multi-byte characters, and with the summed row
 * bytes a manager splits files by.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStagingFile, writeStagingFile, type StagedEntry } from '../../src/router/staging.ts';

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
});
