/**
 * `batch-router check` (the deployment pre-flight) and the exit code of `destinations`, as real
 * child processes against real PostgreSQL: exit 0 only when settings, destinations file and
 * database are all fine; otherwise one "problem:" line per problem and exit 2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/database.ts';
import { cliWorkspace, runCli, type CliWorkspace } from './cli-runner.ts';

type TestDb = Awaited<ReturnType<typeof createTestDatabase>>;
let migrated: TestDb;
let empty: TestDb;
let good: CliWorkspace;
let bad: CliWorkspace;

const FILES = { id: 'files', manager: 'local-files', config: { directory: './out' } };

beforeAll(async () => {
  [migrated, empty] = await Promise.all([createTestDatabase(), createTestDatabase({ migrated: false })]);
  good = cliWorkspace(migrated.url, [FILES]);
  bad = cliWorkspace(migrated.url, [
    FILES,
    { id: 'nope', manager: 'no-such-manager', config: {} },
    { id: 'bad-tuning', manager: 'local-files', config: { directory: './out' }, tuning: { maxAttempts: 0 } },
  ]);
});
afterAll(async () => {
  good?.cleanup();
  bad?.cleanup();
  await Promise.all([migrated?.close(), empty?.close()]);
});

const problemLines = (stdout: string) => stdout.split('\n').filter((line) => line.startsWith('problem: '));

describe('batch-router check', () => {
  // Each child start costs seconds on a busy machine, so a run checks as much as it can show at
  // once: a warning beside a clean check, two refused tunables beside each other.
  it('exits 0 with one ok line per check when everything is fine; an unknown BATCH_ROUTER_* name only warns, with the closest known one', async () => {
    const result = await runCli(['check'], { ...good.env, BATCH_ROUTER_MAX_ATEMPTS: '3' });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(problemLines(result.stdout)).toEqual([]);
    expect(result.stdout).toContain('ok: environment settings');
    expect(result.stdout).toContain(`ok: destinations file ${good.destinationsFile}: 1 destination`);
    expect(result.stdout).toMatch(/ok: database .*: reachable, schema up to date/);
    // A likely typo is worth a line but not a failed rollout.
    expect(result.stdout.split('\n').filter((line) => line.startsWith('warning: '))).toEqual([
      'warning: BATCH_ROUTER_MAX_ATEMPTS is not a setting batch-router knows, so it is ignored; did you mean BATCH_ROUTER_MAX_ATTEMPTS?',
    ]);
  });

  it('prints one problem line per invalid entry and exits 2', async () => {
    const result = await runCli(['check'], bad.env);
    expect(result.code, result.stdout + result.stderr).toBe(2);
    const problems = problemLines(result.stdout);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain('destination "nope": unknown manager "no-such-manager"');
    expect(problems[1]).toContain('destination "bad-tuning"');
    expect(problems[1]).toContain('maxAttempts');
    expect(result.stderr).toContain('check failed: 2 problems');
  });

  it('reports a bad setting; a per-manager variable and a bad tunable no destination uses, each on its own line', async () => {
    const env = { ...good.env, LOG_LEVEL: 'loud', BATCH_ROUTER_LOCAL_FILES_MAX_EVENTS_PER_UPLOAD: 'many' };
    const settings = await runCli(['check'], env);
    expect(settings.code).toBe(2);
    expect(problemLines(settings.stdout).some((line) => line.includes('LOG_LEVEL') && line.includes('loud'))).toBe(true);

    // `start` refuses the webhook value even though no destination uses the webhook manager.
    const tunables = await runCli(['check'], { ...good.env, BATCH_ROUTER_LOCAL_FILES_MAX_EVENTS_PER_UPLOAD: 'many', BATCH_ROUTER_WEBHOOK_MAX_ATTEMPTS: '0' });
    expect(tunables.code).toBe(2);
    expect(problemLines(tunables.stdout)).toEqual([
      expect.stringContaining('BATCH_ROUTER_LOCAL_FILES_MAX_EVENTS_PER_UPLOAD="many"'),
      expect.stringContaining('BATCH_ROUTER_WEBHOOK_MAX_ATTEMPTS="0" must be a positive whole number'),
    ]);
  });

  it('an unmigrated database is fine when the daemon migrates on start, a problem when it does not', async () => {
    const env = { ...good.env, DATABASE_URL: empty.url };
    const [auto, manual] = await Promise.all([runCli(['check'], env), runCli(['check'], { ...env, BATCH_ROUTER_AUTO_MIGRATE: 'false' })]);
    expect(auto.code, auto.stdout + auto.stderr).toBe(0);
    expect(auto.stdout).toMatch(/pending migrations? that the daemon applies on start/);
    expect(manual.code).toBe(2);
    expect(problemLines(manual.stdout)).toEqual([expect.stringMatching(/pending migrations? and BATCH_ROUTER_AUTO_MIGRATE=false: fix: run "batch-router migrate"/)]);
  });

  it('an unreachable database is one problem line naming it and what to check', async () => {
    const result = await runCli(['check'], { ...good.env, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nothing' });
    expect(result.code).toBe(2);
    const problems = problemLines(result.stdout);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('127.0.0.1:1');
    expect(problems[0]).toContain('Check DATABASE_URL');
  });
});

describe('batch-router destinations exit code', () => {
  it('is 2 when any entry is invalid and 0 when all are usable', async () => {
    const [invalid, fine] = await Promise.all([runCli(['destinations'], bad.env), runCli(['destinations'], good.env)]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('unknown manager "no-such-manager"');
    expect(fine.code, fine.stderr).toBe(0);
  });
});
