import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, PermanentError, RetryableError } from '../../src/manager/errors.ts';
import { waitFor } from '../../test/helpers/wait-for.ts';
import { sampleEvents, send, useFakeServer } from './test/harness.ts';

describe('sftp server refusals', () => {
  const env = useFakeServer();
  const { under } = env;

  it('aborts on permission denied with the server\'s message, leaving nothing behind', async () => {
    env.server.faults.denyWrite = (path) => path.startsWith('/denied/');
    const { error } = await send(env.staging, env.server.config({ pathTemplate: 'denied/{uploadId}.csv' }), sampleEvents(3));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error?.message).toContain('writing denied/.42.csv.partial failed: permission denied');
    expect(error?.message).toContain('Permission denied: /denied/.42.csv.partial'); // the server's own words
    expect(await under('denied')).toEqual([]);
  });

  it('after some parts are published, a refusal aborts only the jobs not yet delivered', async () => {
    env.server.faults.denyWrite = (path) => path.endsWith('-2.csv.partial');
    const config = env.server.config({ pathTemplate: 'half/{uploadId}-{part}.csv', maxRowsPerFile: 2 });
    const { result, jobIds } = await send(env.staging, config, sampleEvents(6));
    expect(result?.outcomes.map((o) => o.kind)).toEqual(['succeeded', 'succeeded', 'aborted', 'aborted', 'aborted', 'aborted']);
    expect(result?.outcomes.map((o) => o.jobId)).toEqual(jobIds);
    const aborted = result?.outcomes[2];
    expect(aborted?.kind === 'aborted' && aborted.reason).toContain('permission denied');
    expect(await under('half')).toEqual(['half/42-1.csv']);
  });

  it('with a .done marker, a refusal part-way aborts the whole upload (the reader never got a complete drop)', async () => {
    env.server.faults.denyWrite = (path) => path.endsWith('-2.csv.partial');
    const config = env.server.config({ pathTemplate: 'half-done/{uploadId}-{part}.csv', maxRowsPerFile: 2, doneMarker: true });
    const { error } = await send(env.staging, config, sampleEvents(6));
    expect(error).toBeInstanceOf(PermanentError);
    expect(await under('half-done')).toEqual(['half-done/42-1.csv']);
  });

  it('aborts on a path that cannot exist (a directory of the template is a file)', async () => {
    await writeFile(join(env.server.root, 'blocker'), 'a file where a directory should be');
    const { error } = await send(env.staging, env.server.config({ pathTemplate: 'blocker/{uploadId}.csv' }), sampleEvents(1));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error?.message).toContain('creating directory blocker failed: no such path');
    expect(error?.message).toContain('already exists as a file');
  });

  it('aborts when the server is out of space, removing the partial file', async () => {
    env.server.faults.diskFull = true;
    const { error } = await send(env.staging, env.server.config({ pathTemplate: 'full/{uploadId}.csv' }), sampleEvents(3));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error?.message).toContain('out of space or over quota');
    expect(error?.message).toContain('No space left on device');
    expect(await under('full')).toEqual([]);
  });

  it('names atomicRename when the server cannot rename, and atomicRename false then works', async () => {
    env.server.faults.refuseRename = true;
    const refused = await send(env.staging, env.server.config({ pathTemplate: 'norename/{uploadId}.csv' }), sampleEvents(2));
    expect(refused.error).toBeInstanceOf(ConfigError);
    expect((refused.error as ConfigError).field).toBe('atomicRename');
    expect(refused.error?.message).toContain('rename is not supported by this server');
    expect(refused.error?.message).toContain('"atomicRename": false');
    expect(await under('norename')).toEqual([]);
    const direct = await send(env.staging, env.server.config({ pathTemplate: 'norename/{uploadId}.csv', atomicRename: false }), sampleEvents(2));
    expect(direct.result?.outcomes).toHaveLength(2);
    expect(await under('norename')).toEqual(['norename/42.csv']);
  });

  it('stops promptly when cancelled mid-upload, as a retryable failure', async () => {
    const controller = new AbortController();
    const config = env.server.config({ format: 'ndjson', pathTemplate: 'cancel/{uploadId}.ndjson' });
    const sending = send(env.staging, config, sampleEvents(200_000), { signal: controller.signal });
    await waitFor(() => (env.server.record.bytesWritten.get('/cancel/.42.ndjson.partial') ?? 0) > 0, { message: 'the upload to start writing' });
    const cancelledAt = Date.now();
    controller.abort(new Error('shutdown'));
    const { error } = await sending;
    expect(Date.now() - cancelledAt).toBeLessThan(2_000);
    expect(error).toBeInstanceOf(RetryableError);
    expect(error?.message).toContain('cancelled');
    expect(await under('cancel')).not.toContain('cancel/42.ndjson');
  });
});
