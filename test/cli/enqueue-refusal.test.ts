/**
 * `batch-router enqueue` into a destination the daemon would not deliver to: refused like the
 * API's 409 (same rule, src/destination-intake.ts), exit 2, a message naming the destination, the
 * problem and the fix, and not one row written. Real CLI process, real PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/database.ts';
import { cliWorkspace, runCli, type CliWorkspace } from './cli-runner.ts';

let t: Awaited<ReturnType<typeof createTestDatabase>>;
let ws: CliWorkspace;

beforeAll(async () => {
  t = await createTestDatabase();
  ws = cliWorkspace(t.url, [
    { id: 'files', manager: 'local-files', config: { directory: './out' } },
    { id: 'files-off', manager: 'local-files', enabled: false, config: { directory: './out' } },
    { id: 'files-bad-tuning', manager: 'local-files', config: { directory: './out' }, tuning: { maxEventsPerUpload: 'lots' } },
  ]);
});
afterAll(async () => {
  ws?.cleanup();
  await t?.close();
});

async function jobCount(): Promise<number> {
  const row = await t.db.selectFrom('br_jobs').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('enqueue refuses what the API refuses', () => {
  it('a non-numeric BATCH_ROUTER_LOCAL_FILES_MAX_EVENTS_PER_UPLOAD: exit 2, destination, variable and fix named, nothing enqueued', async () => {
    const events = ws.file('events.ndjson', '{"n":1}\n{"n":2}\n');
    const env = { ...ws.env, BATCH_ROUTER_LOCAL_FILES_MAX_EVENTS_PER_UPLOAD: 'many' };
    for (const extra of [[], ['--force']]) {
      const result = await runCli(['enqueue', 'files', events, ...extra], env);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain('destination "files" has an invalid configuration and is not accepting events');
      expect(result.stderr).toContain('BATCH_ROUTER_LOCAL_FILES_MAX_EVENTS_PER_UPLOAD');
      expect(result.stderr).toContain('"many"');
      expect(result.stderr).toMatch(/fix/);
      expect(result.stderr).toContain('Nothing was enqueued.');
      expect(result.stderr).not.toContain('wait until it is fixed');
    }
    expect(await jobCount()).toBe(0);
  });

  it('an invalid tunable in the destinations file, and a disabled entry, are refused the same way', async () => {
    const events = ws.file('one.ndjson', '{"n":1}\n');
    const [badTuning, disabled] = await Promise.all([
      runCli(['enqueue', 'files-bad-tuning', events], ws.env),
      runCli(['enqueue', 'files-off', events, '--force'], ws.env),
    ]);
    expect(badTuning.code, badTuning.stderr).toBe(2);
    expect(badTuning.stderr).toContain('destination "files-bad-tuning" has an invalid configuration');
    expect(badTuning.stderr).toContain('tuning.maxEventsPerUpload');
    expect(disabled.code, disabled.stderr).toBe(2);
    expect(disabled.stderr).toContain('destination "files-off" is disabled and is not accepting events: fix: set "enabled": true');
    expect(await jobCount()).toBe(0);
  });

  it('still enqueues into the valid entry of the same file', async () => {
    const result = await runCli(['enqueue', 'files', ws.file('ok.ndjson', '{"n":1}\n')], ws.env);
    expect(result.code, result.stderr).toBe(0);
    expect(await jobCount()).toBe(1);
  });
});
