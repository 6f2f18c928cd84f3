/**
 * `batch-router migrate` and how commands behave on a database that was never migrated: they
 * must say to run migrate instead of failing with "relation does not exist". Needs a server to
 * create an empty database; the PGlite fallback only hands out migrated ones.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, databaseUrl, requiresServer, requiresServerReason } from '../helpers/database.ts';
import { cliWorkspace, parseJson, runCli, type CliWorkspace } from './cli-runner.ts';

describe.skipIf(requiresServer)(`batch-router migrate on an empty database (${requiresServer ? requiresServerReason : 'server'})`, () => {
  const serverUrl = process.env.DATABASE_URL!;
  const name = `br_test_${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString('hex')}`;
  let ws: CliWorkspace;

  beforeAll(async () => {
    await adminQuery(serverUrl, `CREATE DATABASE ${name}`);
    ws = cliWorkspace(databaseUrl(serverUrl, name), [{ id: 'demo-files', manager: 'local-files', config: { directory: './out' } }]);
  });
  afterAll(async () => {
    ws?.cleanup();
    await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });

  it('before migrating: destinations still lists with zero counts, jobs says to run migrate', async () => {
    const [destinations, jobs] = await Promise.all([runCli(['destinations', '--json'], ws.env), runCli(['jobs'], ws.env)]);
    expect(destinations.code, destinations.stderr).toBe(0);
    expect(parseJson(destinations)).toEqual([
      {
        id: 'demo-files',
        manager: 'local-files',
        enabled: true,
        valid: true,
        counts: { waiting: 0, executing: 0, importing: 0, succeeded: 0, aborted: 0, cancelled: 0 },
      },
    ]);
    expect(destinations.stderr).toContain('batch-router migrate');
    expect(jobs.code).toBe(1);
    expect(jobs.stderr).toContain('no batch-router tables yet: run "batch-router migrate"');
  });

  it('applies the pending migrations once and reports an up-to-date schema after', async () => {
    const first = await runCli(['migrate', '--json'], ws.env);
    expect(first.code, first.stderr).toBe(0);
    const applied = parseJson<{ applied: string[] }>(first).applied;
    expect(applied.length).toBeGreaterThan(0);
    expect(applied[0]).toMatch(/initial$/);

    const [again, status] = await Promise.all([runCli(['migrate'], ws.env), runCli(['migrate', '--status', '--json'], ws.env)]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('already up to date');
    const states = parseJson<Array<{ name: string; executedAt: string | null }>>(status);
    expect(states.map((s) => s.name)).toEqual(applied);
    expect(states.every((s) => s.executedAt !== null)).toBe(true);
  });
});
