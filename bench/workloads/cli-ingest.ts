/**
 * Ingest through the command line: `batch-router enqueue <destination> <file>` loading an NDJSON
 * file of N events into a fresh, migrated database, timed from spawning the process to its exit
 * (what an operator waits for), next to a bare Node process that only reads and parses the same
 * file (bench/ndjson-read-baseline.ts). Both are started under the tsx loader, so both pay the
 * same interpreter start; each is also run once on an empty file to show that fixed cost on its own.
 *
 * Runs alternate CLI, baseline, CLI, baseline (A B A B) so drift on the machine hits both alike.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFreshDatabase } from '../lib/pg.ts';
import { batchRouterWebhook, DESTINATION_ID } from '../systems/batch-router-webhook.ts';
import { makeEvents } from './events.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'bin/batch-router.js');
const BASELINE = join(ROOT, 'bench/ndjson-read-baseline.ts');

export interface CliIngestRun {
  n: number;
  cliSeconds: number;
  cliStartupSeconds: number;
  baselineSeconds: number;
  baselineStartupSeconds: number;
  /** Jobs the database holds after the CLI run (should equal n). */
  jobsInDatabase: number;
}

/** One round: CLI and baseline on the same file, each also on an empty file. */
export async function runCliIngest(options: { adminUrl: string; n: number; tag: string }): Promise<CliIngestRun> {
  const dir = await mkdtemp(join(tmpdir(), 'batch-router-bench-cli-'));
  try {
    // Written before the clock: producing the file is the caller's work, not the CLI's.
    const file = join(dir, 'events.ndjson');
    const empty = join(dir, 'empty.ndjson');
    await writeFile(file, `${makeEvents(options.n, options.tag).join('\n')}\n`);
    await writeFile(empty, '');

    const cli = await enqueueWithCli(options.adminUrl, file);
    const cliStartup = await enqueueWithCli(options.adminUrl, empty);
    const baseline = await timed(process.execPath, ['--import', 'tsx', BASELINE, file], {});
    const baselineStartup = await timed(process.execPath, ['--import', 'tsx', BASELINE, empty], {});
    if (Number(baseline.stdout.trim()) !== options.n) throw new Error(`baseline read ${baseline.stdout.trim()} events, expected ${options.n}`);
    return {
      n: options.n,
      cliSeconds: cli.seconds,
      cliStartupSeconds: cliStartup.seconds,
      baselineSeconds: baseline.seconds,
      baselineStartupSeconds: baselineStartup.seconds,
      jobsInDatabase: cli.jobs,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `batch-router enqueue` of `file` into a fresh database, migrated before the clock starts. */
async function enqueueWithCli(adminUrl: string, file: string): Promise<{ seconds: number; jobs: number }> {
  const fresh = await createFreshDatabase(adminUrl);
  try {
    await (await batchRouterWebhook().prepare(fresh.url)).close();
    // --force: enqueue without a destinations file (the CLI otherwise checks the id against it).
    const run = await timed(process.execPath, [CLI, 'enqueue', DESTINATION_ID, file, '--force', '--json'], {
      DATABASE_URL: fresh.url,
      LOG_LEVEL: 'warn',
    });
    const { rows } = await fresh.client.query<{ n: string }>('SELECT count(*) AS n FROM br_job_rows');
    return { seconds: run.seconds, jobs: Number(rows[0]!.n) };
  } finally {
    await fresh.drop();
  }
}

/** Wall seconds from spawn to exit; rejects on a non-zero exit with the process's stderr. */
function timed(command: string, args: string[], env: Record<string, string>): Promise<{ seconds: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code === 0) resolve({ seconds, stdout });
      else reject(new Error(`${args.slice(0, 3).join(' ')} exited with ${code}: ${stderr.slice(0, 500)}`));
    });
  });
}
