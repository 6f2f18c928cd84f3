/**
 * `batch-router start` refuses configuration it cannot run with, in one line that names what to
 * fix: a bad per-destination tunable (exit 2, before anything is aborted), an unreachable
 * database (exit 1, no stack, no password), and warns about `BATCH_ROUTER_*` names nobody reads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, requiresServer, requiresServerReason, type TestDatabase } from '../helpers/database.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { RUNNING_MESSAGE } from '../../src/daemon.ts';
import { cliWorkspace, runCli, startCli, type CliWorkspace } from './cli-runner.ts';

describe.skipIf(requiresServer)(`batch-router start and its configuration (${requiresServer ? requiresServerReason : 'server'})`, () => {
  let database: TestDatabase;
  let ws: CliWorkspace;

  beforeAll(async () => {
    database = await createTestDatabase();
    ws = cliWorkspace(database.url, [{ id: 'demo-files', manager: 'local-files', config: { directory: './out' } }]);
    ws.env.PORT = '0';
  });
  afterAll(async () => {
    ws?.cleanup();
    await database?.close();
  });

  it('refuses to start on a bad per-destination tunable, naming the variable', async () => {
    const result = await runCli(['start'], { ...ws.env, BATCH_ROUTER_LOCAL_FILES_MAX_EVENTS_PER_UPLOAD: 'lots' });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('BATCH_ROUTER_LOCAL_FILES_MAX_EVENTS_PER_UPLOAD="lots" must be a positive whole number');
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it('warns about an unknown BATCH_ROUTER_* name with the closest known one, and still starts', async () => {
    const running = startCli(['start'], { ...ws.env, LOG_LEVEL: 'info', BATCH_ROUTER_LOCAL_FILES_MAX_EVENT_PER_UPLOAD: '10' });
    try {
      // Signals stop it gracefully only from this line on ("API listening" comes before, and a
      // SIGTERM between the two killed the process on a busy machine).
      await waitFor(() => running.stdout().includes(RUNNING_MESSAGE), { message: 'the daemon to start' });
      expect(running.stdout()).toContain('did you mean BATCH_ROUTER_LOCAL_FILES_MAX_EVENTS_PER_UPLOAD?');
      expect(running.stdout()).toContain('BATCH_ROUTER_LOCAL_FILES_MAX_EVENT_PER_UPLOAD is not a setting batch-router knows');
    } finally {
      running.child.kill('SIGTERM');
    }
    const result = await running.exited;
    expect(result.code, result.stderr).toBe(0);
  });

  it('an unreachable DATABASE_URL is one line with host:port and the fix, no stack, no password', async () => {
    const result = await runCli(['start'], { ...ws.env, DATABASE_URL: 'postgres://postgres:hunter2secret@127.0.0.1:1/test' });
    expect(result.code, result.stderr).toBe(1);
    const output = result.stdout + result.stderr;
    expect(result.stderr).toContain('127.0.0.1:1');
    expect(result.stderr).toContain('Check DATABASE_URL');
    expect(output).not.toContain('hunter2secret');
    expect(output).not.toMatch(/^\s+at /m);
    expect(output).not.toContain('"stack"');
  });

  it('a DATABASE_URL naming a missing database or role is one line naming it and the fix, no stack', async () => {
    for (const [url, words] of [
      ['postgres://postgres@127.0.0.1:5432/batch_router_no_such_db', 'database "batch_router_no_such_db" does not exist'],
      ['postgres://batch_router_no_such_role@127.0.0.1:5432/postgres', 'role "batch_router_no_such_role" does not exist'],
    ] as const) {
      const result = await runCli(['start'], { ...ws.env, DATABASE_URL: url });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toContain(words);
      expect(result.stderr).toContain('Check DATABASE_URL');
      const output = result.stdout + result.stderr;
      expect(output).not.toMatch(/^\s+at /m);
      expect(output).not.toContain('"stack"');
      expect(output).not.toContain('kysely');
    }
  });
});
