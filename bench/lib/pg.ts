/**
 * PostgreSQL helpers of the benchmark: a fresh database per run (so no run inherits another's
 * bloat, statistics or cache of dead tuples) and an optional meter of the server's CPU time.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

export interface FreshDatabase {
  readonly name: string;
  readonly url: string;
  /** One connection to it for the runner's own statements (settling, the CPU meter). */
  readonly client: pg.Client;
  /** Closes the runner's connection and drops the database, kicking out any leftover session. */
  drop(): Promise<void>;
}

/**
 * `CREATE DATABASE bench_<random>` on the server of `adminUrl`; a copy of `template` when given
 * (a database prepared once and copied per run, e.g. the scale workload's millions of finished
 * jobs: copying files is far faster than inserting them again, and every run starts identical).
 */
export async function createFreshDatabase(adminUrl: string, template = 'template0'): Promise<FreshDatabase> {
  const name = `bench_${randomBytes(6).toString('hex')}`;
  // template0: nobody is ever connected to it, so creation cannot fail on a busy template1.
  // FILE_COPY (PostgreSQL 15+) copies a big template's files instead of writing them all to WAL,
  // which the default WAL_LOG strategy would do: gigabytes of WAL before every scale run.
  await withAdmin(adminUrl, async (admin) => {
    const strategy = template !== 'template0' && (await serverVersionNum(admin)) >= 150_000 ? ' STRATEGY FILE_COPY' : '';
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}${strategy}`);
  });
  const url = withDatabase(adminUrl, name);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    name,
    url,
    client,
    async drop() {
      await client.end().catch(() => undefined);
      // FORCE (PostgreSQL 13+): a consumer that failed to stop must not leave the database behind.
      await withAdmin(adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/**
 * Brings the freshly loaded tables to a steady state before the clock starts: ANALYZE gives the
 * planner the statistics autovacuum would have gathered on a long-running system, and CHECKPOINT
 * flushes the load phase's dirty pages so that writing them out is not billed to the consumer.
 */
export async function settle(client: pg.Client, options: { analyze?: boolean } = {}): Promise<void> {
  if (options.analyze ?? true) await client.query('ANALYZE');
  await client.query('CHECKPOINT').catch(() => undefined); // needs superuser or pg_checkpoint
}

export async function serverVersion(adminUrl: string): Promise<string> {
  return withAdmin(adminUrl, async (admin) => (await admin.query<{ v: string }>('SELECT version() AS v')).rows[0]!.v);
}

async function serverVersionNum(client: pg.Client): Promise<number> {
  return Number((await client.query<{ v: string }>('SHOW server_version_num')).rows[0]!.v);
}

async function withAdmin<T>(adminUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/**
 * CPU seconds the server spent for one database: its backends (the consumer's connections, its
 * autovacuum workers) plus the WAL writer, background writer and checkpointer, which work for
 * every database but mostly for the one being hammered. Read from /proc/<pid>/stat, so only
 * available when the server runs on this machine and its processes are visible; `null` otherwise.
 *
 * Sampled rather than diffed once: backends come and go, so each pid is tracked from the first
 * sample that saw it to the last. A backend that exits between two samples loses its last interval.
 */
export class PgCpuMeter {
  readonly #first = new Map<number, number>();
  readonly #last = new Map<number, number>();
  #available = true;
  #seenOnce = false;
  #ticksPerSecond = 100;

  constructor(
    private readonly client: pg.Client,
    private readonly database: string,
  ) {
    try {
      this.#ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      // USER_HZ is 100 on every mainstream Linux build.
    }
  }

  async sample(): Promise<void> {
    if (!this.#available) return;
    const { rows } = await this.client.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
       WHERE (datname = $1 AND pid <> pg_backend_pid())
          OR backend_type IN ('walwriter', 'background writer', 'checkpointer')`,
      [this.database],
    );
    for (const { pid } of rows) {
      const ticks = readTicks(pid);
      if (ticks === undefined) continue;
      // A backend that appears after the first sample started within the window: count all of it.
      if (!this.#first.has(pid)) this.#first.set(pid, this.#seenOnce ? 0 : ticks);
      this.#last.set(pid, ticks);
    }
    if (!this.#seenOnce && this.#first.size === 0) this.#available = false;
    this.#seenOnce = true;
  }

  /** Seconds between the first and the latest sample, or null when /proc could not be read. */
  seconds(): number | null {
    if (!this.#available) return null;
    let ticks = 0;
    for (const [pid, last] of this.#last) ticks += last - (this.#first.get(pid) ?? 0);
    return ticks / this.#ticksPerSecond;
  }
}

/** utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/<pid>/stat). */
function readTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after it are space separated.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}
