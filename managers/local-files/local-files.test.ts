import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject, UploadResult } from '../../src/manager/contract.ts';
import { ConfigError, PermanentError, RetryableError } from '../../src/manager/errors.ts';
import { buildBatch, callContext, tempDir } from '../../test/conformance/harness.ts';
import { runManagerConformance } from '../../test/conformance/suite.ts';
import { flatten } from './csv.ts';
import localFiles from './index.ts';

const fixture = (name: string) => new URL(`./test/fixtures/${name}`, import.meta.url);
const sampleEvents = (n: number, prefix = 'evt'): JsonObject[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, n: i, user: { email: `u${i}@example.com`, tags: ['a'] } }));

for (const format of ['ndjson', 'csv'] as const) {
  runManagerConformance({
    manager: localFiles,
    variant: format,
    async setup() {
      const dir = await tempDir('br-local-files-');
      return {
        config: { directory: join(dir.path, 'out'), format },
        cleanup: dir.dispose,
        // Every file, finished or partial, is a "vendor call" that reached the disk.
        vendorCalls: async () => (await readdir(join(dir.path, 'out')).catch(() => [])).length,
      };
    },
    sampleEvents,
    badEvent: 'not an object' as unknown as JsonObject,
  });
}

describe('local-files', () => {
  let root: Awaited<ReturnType<typeof tempDir>>;
  let staging: Awaited<ReturnType<typeof tempDir>>;
  let dirCount = 0;
  beforeAll(async () => {
    root = await tempDir('br-local-files-');
    staging = await tempDir();
  });
  afterAll(async () => {
    await root.dispose();
    await staging.dispose();
  });

  /** A fresh output directory per test, so listings only show that test's files. */
  const freshDir = () => join(root.path, `out-${++dirCount}`);

  async function write(
    events: JsonObject[],
    config: Record<string, unknown>,
    batch: { uploadId?: string; createdAt?: number; abortAfterMs?: number } = {},
  ): Promise<UploadResult> {
    const parsed = localFiles.configSchema.parse(config);
    const built = await buildBatch(localFiles, parsed, events, { stagingDir: staging.path, destinationId: 'files-1', uploadId: batch.uploadId ?? '42', createdAt: batch.createdAt });
    const { ctx, controller } = callContext(parsed, { destinationId: 'files-1' });
    if (batch.abortAfterMs !== undefined) setTimeout(() => controller.abort(new Error('shutdown')), batch.abortAfterMs);
    return localFiles.upload(built.batch, ctx);
  }

  const events = async () => JSON.parse(await readFile(fixture('events.json'), 'utf8')) as JsonObject[];

  it.each(['csv', 'ndjson'] as const)('writes %s byte for byte like the golden file', async (format) => {
    const directory = freshDir();
    const result = await write(await events(), { directory, format });
    expect(result.outcomes.map((o) => o.kind)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(await readdir(directory)).toEqual([`files-1-42.${format}`]);
    const written = await readFile(join(directory, `files-1-42.${format}`));
    expect(written.toString('utf8')).toBe((await readFile(fixture(`golden.${format}`))).toString('utf8'));
  });

  it('flattens nested objects into dotted columns and refuses a clash at transform time', () => {
    expect(flatten({ a: { b: { c: 1 } }, d: [1, { e: 2 }], f: {}, g: null }, true)).toEqual({ 'a.b.c': 1, d: [1, { e: 2 }], g: null });
    const config = localFiles.configSchema.parse({ directory: freshDir(), format: 'csv' });
    const clash = () => localFiles.transform({ jobId: '1', event: { 'a.b': 1, a: { b: 2 } }, attempt: 1 }, config);
    expect(clash).toThrow(PermanentError);
    expect(clash).toThrow('"a.b"');
  });

  it('renames into place atomically: a reader never sees a partial file under the final name', async () => {
    const directory = freshDir();
    await mkdir(directory, { recursive: true });
    const rows = 60_000;
    const seen = new Set<string>();
    let finished = false;
    let completeReads = 0;
    const reader = (async () => {
      for (;;) {
        const last = finished; // one more scan after the write ended, so the final file is read too
        for (const name of await readdir(directory)) {
          seen.add(name);
          if (name !== 'files-1-42.ndjson') continue;
          const text = await readFile(join(directory, name), 'utf8');
          expect(text.endsWith('\n') && text.split('\n').length - 1).toBe(rows);
          completeReads += 1;
        }
        if (last) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await write(sampleEvents(rows), { directory }).finally(() => (finished = true));
    await reader;
    expect([...seen].every((name) => name === 'files-1-42.ndjson' || name === '.files-1-42.ndjson.partial')).toBe(true);
    expect(await readdir(directory)).toEqual(['files-1-42.ndjson']); // no .partial left behind
    // The reader did overlap the write (it saw the partial), and every read of the final name was whole.
    expect(seen.has('.files-1-42.ndjson.partial')).toBe(true);
    expect(completeReads).toBeGreaterThan(0);
  });

  it('overwrites the same file when the same upload is retried', async () => {
    const directory = freshDir();
    const template = 'batch-{timestampMs}-{uploadId}.{ext}';
    await write(sampleEvents(3, 'first'), { directory, fileNameTemplate: template }, { createdAt: 1_700_000_000_000 });
    await write(sampleEvents(2, 'retry'), { directory, fileNameTemplate: template }, { createdAt: 1_700_000_000_000 });
    expect(await readdir(directory)).toEqual(['batch-1700000000000-42.ndjson']);
    const text = await readFile(join(directory, 'batch-1700000000000-42.ndjson'), 'utf8');
    expect(text.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(['retry-0', 'retry-1']);
  });

  it.each([
    ['../escape-{uploadId}.{ext}', '..'],
    ['sub/{uploadId}.{ext}', '/'],
    ['sub\\{uploadId}.{ext}', '\\'],
    ['{destinationId}.{ext}', '{uploadId}'],
    ['{uploadId}-{user}.{ext}', '{user}'],
    ['.hidden-{uploadId}', 'hidden'],
  ])('rejects the template %s at config validation', (fileNameTemplate, mentioned) => {
    const parse = () => localFiles.configSchema.parse({ directory: freshDir(), fileNameTemplate });
    expect(parse).toThrow(ConfigError);
    expect(parse).toThrow('fileNameTemplate');
    expect(parse).toThrow(mentioned);
  });

  it('fails permanently, naming the path, when "directory" lies under a regular file (ENOTDIR)', async () => {
    // We run as root, where permission bits do not stop writes; a file in the path does.
    const file = join(root.path, 'plain-file');
    await writeFile(file, 'not a directory');
    const error = await write(sampleEvents(2), { directory: join(file, 'out') }).then(() => undefined, (e: unknown) => e as Error);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error?.message).toContain(join(file, 'out'));
    expect(error?.message).toContain('ENOTDIR');
  });

  it.skipIf(process.getuid?.() === 0)('fails permanently on a read-only directory (EACCES; skipped as root)', async () => {
    const directory = freshDir();
    await mkdir(directory, { recursive: true });
    await chmod(directory, 0o500);
    try {
      const error = await write(sampleEvents(2), { directory }).then(() => undefined, (e: unknown) => e as Error);
      expect(error).toBeInstanceOf(PermanentError);
      expect(error?.message).toContain('EACCES');
    } finally {
      await chmod(directory, 0o700);
    }
  });

  it('stops mid-write on abort, retryable, leaving no file behind', async () => {
    const directory = freshDir();
    const error = await write(sampleEvents(100_000), { directory }, { abortAfterMs: 20 }).then(() => undefined, (e: unknown) => e as Error);
    expect(error).toBeInstanceOf(RetryableError);
    expect(await readdir(directory)).toEqual([]);
  });
});
