/**
 * The set-up every paced run shares (W2 steady rate, the soak): a fresh database, a sink child,
 * the system prepared on that database and its consumer child, torn down in reverse order
 * whatever happens, so no run leaves a database or a process behind.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnBenchChild, type BenchChild } from './child.ts';
import { createFreshDatabase, type FreshDatabase } from './pg.ts';
import type { PreparedSystem } from './types.ts';

export interface ConsumerRig {
  fresh: FreshDatabase;
  sink: BenchChild<{ url: string }>;
  prepared: PreparedSystem;
  /** Spawns the consumer; `prepare` runs first, so the caller can settle the database in between. */
  spawnConsumer(): Promise<BenchChild<unknown>>;
}

export async function withConsumerRig<T>(
  adminUrl: string,
  options: { sinkEnv: Record<string, string>; prepare: (databaseUrl: string) => Promise<PreparedSystem> },
  work: (rig: ConsumerRig) => Promise<T>,
): Promise<T> {
  const workDir = await mkdtemp(join(tmpdir(), 'batch-router-bench-'));
  const fresh = await createFreshDatabase(adminUrl);
  let sink: BenchChild<{ url: string }> | undefined;
  let prepared: PreparedSystem | undefined;
  let consumer: BenchChild<unknown> | undefined;
  try {
    sink = await spawnBenchChild<{ url: string }>('sink-process.ts', options.sinkEnv);
    prepared = await options.prepare(fresh.url);
    const [readySink, readyPrepared] = [sink, prepared];
    return await work({
      fresh,
      sink: readySink,
      prepared: readyPrepared,
      spawnConsumer: async () => (consumer = await readyPrepared.spawnConsumer({ sinkUrl: readySink.ready.url, workDir })),
    });
  } finally {
    await consumer?.stop().catch(() => undefined);
    await sink?.stop().catch(() => undefined);
    await prepared?.close().catch(() => undefined);
    await fresh.drop();
    await rm(workDir, { recursive: true, force: true });
  }
}
