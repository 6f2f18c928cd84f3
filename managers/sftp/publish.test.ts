import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/manager/contract.ts';
import { RetryableError } from '../../src/manager/errors.ts';
import type { FakeSftpServer } from '../../test/fakes/sftp-server.ts';
import { readServerFile, sampleEvents, send, useFakeServer, watchWhile } from './test/harness.ts';

/** Ids of every row in the given NDJSON files, in file order. */
async function idsIn(server: FakeSftpServer, files: string[]): Promise<string[]> {
  const texts = await Promise.all(files.map((file) => readServerFile(server, file)));
  return texts.flatMap((text) => text.toString('utf8').split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { id: string }).id));
}

describe('sftp publishing', () => {
  const env = useFakeServer();
  const { under } = env;

  it('never shows a partial file under its final name to a reader polling the directory', async () => {
    const dir = join(env.server.root, 'atomic');
    await mkdir(dir, { recursive: true });
    const perPart = 10_000;
    const config = env.server.config({ format: 'ndjson', pathTemplate: 'atomic/{uploadId}-{part}.ndjson', maxRowsPerFile: perPart });
    const { value, seen, reads } = await watchWhile(
      dir,
      () => send(env.staging, config, sampleEvents(3 * perPart)),
      (name, text) => expect(text.endsWith('\n') && text.split('\n').length - 1, `${name} read incomplete`).toBe(perPart),
    );
    expect(value.result?.outcomes).toHaveLength(3 * perPart);
    expect(await readdir(dir)).toEqual(['42-1.ndjson', '42-2.ndjson', '42-3.ndjson']);
    // The reader did overlap the writes (it saw temporary names), and every final name it read was whole.
    expect([...seen].filter((name) => name.endsWith('.partial')).length).toBeGreaterThan(0);
    expect(reads).toBeGreaterThan(0);
  });

  it('reconnects once after a connection drops mid-upload and resumes without re-sending finished parts', async () => {
    const config = env.server.config({ format: 'ndjson', pathTemplate: 'drop-once/{uploadId}-{part}.ndjson', maxRowsPerFile: 1000 });
    const events = sampleEvents(3000);
    env.server.faults.drop = { afterBytes: 100_000, times: 1 }; // part 1 is ~75 kB: the drop lands in part 2
    const connections = env.server.connections();
    const { result } = await send(env.staging, config, events);
    expect(env.server.faults.drop.times).toBe(0);
    expect(result?.outcomes.every((o) => o.kind === 'succeeded')).toBe(true);
    expect(env.server.connections()).toBe(connections + 2);
    const files = await under('drop-once');
    expect(files).toEqual(['drop-once/42-1.ndjson', 'drop-once/42-2.ndjson', 'drop-once/42-3.ndjson']);
    expect(await idsIn(env.server, files)).toEqual(events.map((e) => e.id));
    const part1 = (await readServerFile(env.server, files[0]!)).length;
    expect(env.server.record.bytesWritten.get('/drop-once/.42-1.ndjson.partial')).toBe(part1); // sent once
    expect(env.server.record.bytesWritten.get('/drop-once/.42-2.ndjson.partial')).toBeGreaterThan(part1); // torn, then again
  });

  it('fails retryable when the connection keeps dropping, then a retry of the same upload completes cleanly', async () => {
    const config = env.server.config({ format: 'ndjson', pathTemplate: 'drop-twice/{uploadId}-{part}.ndjson', maxRowsPerFile: 1000 });
    const events = sampleEvents(3000);
    env.server.faults.drop = { afterBytes: 100_000, times: 2 };
    const first = await send(env.staging, config, events);
    expect(first.error).toBeInstanceOf(RetryableError);
    expect(first.error?.message).toContain('connection lost');
    // The second drop tore part 3 after part 2 was published on the reconnected pass.
    expect((await under('drop-twice')).some((file) => file.includes('.partial'))).toBe(true);
    const retry = await send(env.staging, config, events, { uploadAttempt: 2 });
    expect(retry.result?.outcomes.every((o) => o.kind === 'succeeded')).toBe(true);
    const files = await under('drop-twice');
    expect(files).toEqual(['drop-twice/42-1.ndjson', 'drop-twice/42-2.ndjson', 'drop-twice/42-3.ndjson']);
    expect(await idsIn(env.server, files)).toEqual(events.map((e) => e.id));
    const part1 = (await readServerFile(env.server, files[0]!)).length;
    expect(env.server.record.bytesWritten.get('/drop-twice/.42-1.ndjson.partial')).toBe(part1);
  });

  it('on a retry removes its own stale temporary files, and only those', async () => {
    const dir = join(env.server.root, 'stale');
    await mkdir(dir, { recursive: true });
    const leftovers = ['.42-1.csv.partial', '.42-9.csv.partial', '.42-1.csv.done.partial', '.420-1.csv.partial', '.other.partial', 'keep.csv'];
    for (const name of leftovers) await writeFile(join(dir, name), 'old');
    const config = env.server.config({ pathTemplate: 'stale/{uploadId}-{part}.csv', maxRowsPerFile: 5, doneMarker: true });
    const { result } = await send(env.staging, config, sampleEvents(8), { uploadAttempt: 3 });
    expect(result?.outcomes).toHaveLength(8);
    expect(await readdir(dir)).toEqual(['.420-1.csv.partial', '.other.partial', '42-1.csv', '42-1.csv.done', '42-2.csv', 'keep.csv']);
  });

  it('with a .done marker already in place, a retry sends nothing', async () => {
    const config = env.server.config({ pathTemplate: 'redo/{uploadId}-{part}.csv', maxRowsPerFile: 5, doneMarker: true });
    await send(env.staging, config, sampleEvents(8));
    const requests = env.server.record.requests.length;
    const { result } = await send(env.staging, config, sampleEvents(8), { uploadAttempt: 2 });
    expect(result?.outcomes.every((o) => o.kind === 'succeeded')).toBe(true);
    expect(env.server.record.requests.slice(requests).filter((r) => ['OPEN', 'WRITE', 'RENAME', 'REMOVE'].includes(r))).toEqual([]);
  });

  it('with atomicRename false writes final names directly, and a retry rewrites only a torn part', async () => {
    const config = env.server.config({ format: 'ndjson', pathTemplate: 'direct/{uploadId}-{part}.ndjson', maxRowsPerFile: 4, atomicRename: false });
    const events: JsonObject[] = sampleEvents(10);
    const requests = env.server.record.requests.length;
    await send(env.staging, config, events);
    expect(env.server.record.requests.slice(requests)).not.toContain('RENAME');
    const files = await under('direct');
    expect(files).toEqual(['direct/42-1.ndjson', 'direct/42-2.ndjson', 'direct/42-3.ndjson']);
    // A crash tore part 2 mid-write; the retry must notice it and rewrite that part only.
    const whole = await readServerFile(env.server, files[1]!);
    await writeFile(join(env.server.root, files[1]!), whole.subarray(0, 30));
    const written = new Map(env.server.record.bytesWritten);
    const { result } = await send(env.staging, config, events, { uploadAttempt: 2 });
    expect(result?.outcomes).toHaveLength(10);
    expect(await readServerFile(env.server, files[1]!)).toEqual(whole);
    expect(env.server.record.bytesWritten.get('/direct/42-1.ndjson')).toBe(written.get('/direct/42-1.ndjson'));
    expect(env.server.record.bytesWritten.get('/direct/42-2.ndjson')).toBe(written.get('/direct/42-2.ndjson')! + whole.length);
    expect(await idsIn(env.server, files)).toEqual(events.map((e) => e.id));
  });
});
