/**
 * `batch-router start --api-only` and `--no-api` as two real processes on one database: the API
 * process accepts, the router process delivers. Slow suite: it starts two daemons.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliWorkspace, runCli, startCli, type RunningCli } from '../cli/cli-runner.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { RUNNING_MESSAGE } from '../../src/daemon.ts';

describe('batch-router start --api-only / --no-api', () => {
  let t: TestDatabase;
  const children: RunningCli[] = [];
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    for (const child of children) child.child.kill('SIGKILL');
    await t.close();
  });

  it('splits the roles across two processes on one database', { timeout: 90_000 }, async () => {
    const ws = cliWorkspace(t.url, [{ id: 'files', manager: 'local-files', config: { directory: 'OUT', format: 'ndjson' } }]);
    ws.file('destinations.json', JSON.stringify([{ id: 'files', manager: 'local-files', config: { directory: join(ws.dir, 'out'), format: 'ndjson' } }]));
    const env = { ...ws.env, PORT: '0', BATCH_ROUTER_API_HOST: '127.0.0.1', BATCH_ROUTER_API_KEYS_FILE: join(ws.dir, 'keys.json'),
      LOG_LEVEL: 'info', BATCH_ROUTER_LOG_FORMAT: 'json', BATCH_ROUTER_UPLOAD_INTERVAL_MS: '50', BATCH_ROUTER_CALLBACK_POLL_MS: '50' };
    expect((await runCli(['start', '--api-only', '--no-api'], env)).code).toBe(2);

    const apiOnly = startCli(['start', '--api-only'], env);
    children.push(apiOnly);
    const listening = await waitFor(() => /"url":"(http:\/\/[^"]+)","keys":0.*"msg":"API listening"/.exec(apiOnly.stdout()),
      { timeoutMs: 30_000, message: 'the API-only process listens' }).catch((error: Error) => {
      throw new Error(`${error.message}\nstdout: ${apiOnly.stdout()}\nstderr: ${apiOnly.stderr()}`);
    });
    const url = listening[1]!;
    expect(apiOnly.stdout()).toContain('no router (api-only)');
    const submitted = await fetch(`${url}/v1/destinations/files/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events: [{ id: 1 }, { id: 2 }] }) });
    expect(submitted.status).toBe(202);
    const accepted = await submitted.json();
    const destination = await (await fetch(`${url}/v1/destinations/files`)).json();
    expect(destination.health.worker).toBeNull();

    const deliverer = startCli(['start', '--no-api'], env);
    children.push(deliverer);
    await waitFor(async () => (await (await fetch(`${url}/v1/submissions/${accepted.submissionId}`)).json()).state === 'completed',
      { timeoutMs: 30_000, message: 'the --no-api process delivers what the API-only process accepted' }).catch((error: Error) => {
      throw new Error(`${error.message}\ndeliverer stdout: ${deliverer.stdout()}\nstderr: ${deliverer.stderr()}`);
    });
    expect(deliverer.stdout()).not.toContain('API listening');
    // Signalled only once each says SIGTERM stops it gracefully (not merely that it started).
    await waitFor(() => [deliverer, apiOnly].every((c) => c.stdout().includes(RUNNING_MESSAGE)), { message: 'both processes to handle signals' });
    for (const child of [deliverer, apiOnly]) child.child.kill('SIGTERM');
    expect((await deliverer.exited).code).toBe(0);
    expect((await apiOnly.exited).code).toBe(0);
    ws.cleanup();
  });
});
