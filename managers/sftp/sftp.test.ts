import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/manager/contract.ts';
import { ConfigError, PermanentError } from '../../src/manager/errors.ts';
import { runManagerConformance } from '../../test/conformance/suite.ts';
import { startFakeSftpServer } from '../../test/fakes/sftp-server.ts';
import sftp from './index.ts';
import { fixture, fixtureEvents, readServerFile, sampleEvents, send, useFakeServer } from './test/harness.ts';

for (const format of ['csv', 'ndjson'] as const) {
  runManagerConformance({
    manager: sftp,
    variant: format,
    async setup() {
      const server = await startFakeSftpServer();
      return {
        config: server.config({ format, pathTemplate: `out/{uploadId}-{part}.${format}`, maxRowsPerFile: 10 }),
        cleanup: () => server.close(),
        // Every TCP connection counts: an empty or cancelled upload must not even connect.
        vendorCalls: async () => server.connections(),
      };
    },
    sampleEvents,
    badEvent: ['not', 'an', 'object'] as unknown as JsonObject,
  });
}

describe('sftp files', () => {
  const env = useFakeServer();

  it.each([
    ['csv', {}, 'golden.csv'],
    ['csv', { columns: ['id', 'customer.name', 'total', 'missing'] }, 'golden-columns.csv'],
    ['ndjson', {}, 'golden.ndjson'],
  ] as const)('writes %s %j byte for byte like %s', async (format, extra, golden) => {
    const pathTemplate = `golden/${golden}/{uploadId}.${format}`;
    const { result } = await send(env.staging, env.server.config({ format, pathTemplate, ...extra }), await fixtureEvents());
    expect(result?.outcomes.map((o) => o.kind)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(await env.under(`golden/${golden}`)).toEqual([`golden/${golden}/42.${format}`]);
    const written = await readServerFile(env.server, `golden/${golden}/42.${format}`);
    expect(written.toString('utf8')).toBe(await readFile(fixture(golden), 'utf8'));
  });

  it('gzips each file and appends .gz to the name', async () => {
    const { result } = await send(env.staging, env.server.config({ format: 'ndjson', gzip: true, pathTemplate: 'gz/{uploadId}.ndjson' }), await fixtureEvents());
    expect(result?.outcomes).toHaveLength(3);
    expect(await env.under('gz')).toEqual(['gz/42.ndjson.gz']);
    const text = gunzipSync(await readServerFile(env.server, 'gz/42.ndjson.gz')).toString('utf8');
    expect(text).toBe(await readFile(fixture('golden.ndjson'), 'utf8'));
  });

  it('renders every token from the upload and its creation time (UTC)', async () => {
    const pathTemplate = 'tokens/{destinationId}/{YYYY}/{MM}/{DD}/{hh}{mm}{ss}-{timestampMs}-{uploadId}-{part}.csv';
    await send(env.staging, env.server.config({ pathTemplate }), sampleEvents(2), { destinationId: 'acme.eu', uploadId: '777' });
    expect(await env.under('tokens')).toEqual([
      'tokens/acme.eu/2024/05/06/070809-1714979289123-777-1.csv',
    ]);
  });

  it('splits an upload into parts by maxRowsPerFile, each with the header', async () => {
    const config = env.server.config({ pathTemplate: 'rows/{uploadId}-{part}.csv', maxRowsPerFile: 4 });
    await send(env.staging, config, sampleEvents(10));
    const files = await env.under('rows');
    expect(files).toEqual(['rows/42-1.csv', 'rows/42-2.csv', 'rows/42-3.csv']);
    const lines = await Promise.all(files.map(async (f) => (await readServerFile(env.server, f)).toString('utf8').trimEnd().split('\n')));
    expect(lines.map((l) => l.length)).toEqual([5, 5, 3]);
    expect(new Set(lines.map((l) => l[0]))).toEqual(new Set(['id,n,user.email,user.tags']));
    expect(lines.flatMap((l) => l.slice(1).map((row) => row.split(',')[0]))).toEqual(sampleEvents(10).map((e) => e.id));
  });

  it('splits by maxBytesPerFile, never exceeding it, and gives an oversized row a part of its own', async () => {
    const events = [...sampleEvents(6), { id: 'huge', n: 99, blob: 'x'.repeat(500) }, ...sampleEvents(2, 'tail')];
    const config = env.server.config({ format: 'ndjson', pathTemplate: 'bytes/{uploadId}-{part}.ndjson', maxBytesPerFile: 200 });
    await send(env.staging, config, events);
    const files = await env.under('bytes');
    const contents = await Promise.all(files.map((f) => readServerFile(env.server, f)));
    const oversized = contents.filter((c) => c.length > 200);
    expect(oversized.map((c) => c.toString().split('\n').length - 1)).toEqual([1]);
    expect(contents.map((c) => c.toString()).join('').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(
      events.map((e) => e.id),
    );
    expect(files.length).toBeGreaterThanOrEqual(4);
  });

  it('writes a .done marker listing the parts, after them', async () => {
    const config = env.server.config({ pathTemplate: 'done/{uploadId}-{part}.csv', maxRowsPerFile: 3, doneMarker: true });
    const before = env.server.record.renamed.length;
    await send(env.staging, config, sampleEvents(5));
    expect(await env.under('done')).toEqual(['done/42-1.csv', 'done/42-1.csv.done', 'done/42-2.csv']);
    expect((await readServerFile(env.server, 'done/42-1.csv.done')).toString()).toBe('42-1.csv\n42-2.csv\n');
    // The marker is renamed into place last, after every part.
    expect(env.server.record.renamed.slice(before)).toEqual(['/done/42-1.csv', '/done/42-2.csv', '/done/42-1.csv.done']);
  });

  it('aborts only the event a CSV column clash makes impossible, at transform time', () => {
    const config = sftp.configSchema.parse(env.server.config());
    const clash = () => sftp.transform({ jobId: '1', event: { 'a.b': 1, a: { b: 2 } }, attempt: 1 }, config);
    expect(clash).toThrow(PermanentError);
    expect(clash).toThrow('"a.b"');
  });
});

describe('sftp config validation', () => {
  const base = { host: 'sftp.example.com', username: 'u', password: 'hunter2-secret', hostKeySha256: `SHA256:${'A'.repeat(43)}`, pathTemplate: 'x/{uploadId}.csv' };
  const problem = (overrides: Record<string, unknown>) => {
    try {
      sftp.configSchema.parse({ ...base, ...overrides });
      return undefined;
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).not.toContain('hunter2-secret');
      return error as ConfigError;
    }
  };

  it.each([
    ['../{uploadId}.csv', '".."'],
    ['drops/../../etc/{uploadId}.csv', '".."'],
    ['/etc/{uploadId}.csv', 'leading "/"'],
    ['~/{uploadId}.csv', 'leading "/" or "~"'],
    ['drops/./{uploadId}.csv', '"."'],
    ['drops//{uploadId}.csv', 'empty path segments'],
    ['drops\\{uploadId}.csv', '"/"'],
    ['drops/{destinationId}.csv', '{uploadId}'],
    ['drops/{uploadId}-{user}.csv', '{user}'],
    ['drops/{part}/{uploadId}.csv', 'only in the file name'],
    ['drops/.{uploadId}.csv', 'starting with "."'],
  ])('rejects the path template %s', (pathTemplate, mentioned) => {
    const error = problem({ pathTemplate });
    expect(error?.field).toBe('pathTemplate');
    expect(error?.message).toContain(mentioned);
  });

  it.each([
    [{ hostKeySha256: undefined }, 'hostKeySha256', 'insecureSkipHostKeyCheck'],
    [{ hostKeySha256: 'aa:bb:cc' }, 'hostKeySha256', 'SHA256:'],
    [{ insecureSkipHostKeyCheck: true }, 'insecureSkipHostKeyCheck', 'remove one'],
    [{ password: undefined }, 'password', 'privateKey'],
    [{ passphrase: 'pw-secret' }, 'passphrase', 'privateKey'],
    [{ privateKey: '/home/me/.ssh/id_ed25519' }, 'privateKey', 'not a file path'],
    [{ maxRowsPerFile: 100 }, 'pathTemplate', '{part}'],
    [{ format: 'ndjson', columns: ['id'] }, 'columns', 'csv'],
    [{ columns: ['id', 'id'] }, 'columns', 'twice'],
  ])('rejects %j naming %s', (overrides, field, mentioned) => {
    const error = problem(overrides);
    expect(error?.field).toBe(field);
    expect(error?.message).toContain(mentioned);
  });

  it('accepts an unpinned server only with insecureSkipHostKeyCheck, and applies the defaults', () => {
    const config = sftp.configSchema.parse({ ...base, hostKeySha256: undefined, insecureSkipHostKeyCheck: true });
    expect(config).toMatchObject({ port: 22, format: 'csv', gzip: false, atomicRename: true, doneMarker: false, connectTimeoutMs: 20_000 });
    expect(sftp.configSchema.secretFields).toEqual(['password', 'privateKey', 'passphrase']);
  });
});
