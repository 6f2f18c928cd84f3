/**
 * `<dataDir>/pglite.lock`: at most one process at a time may have the PGlite files open. PGlite
 * has no lock of its own (two processes opening one directory each see only their own writes and
 * then overwrite each other's), and Node has no flock, so the lock is a file created atomically
 * with link(2) and naming its holder's pid. A lock whose pid is dead is stale and taken over.
 */
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** Either what `checkFirst` found (and no lock), or the lock. */
export type LockOutcome<T> = { kind: 'found'; found: T } | { kind: 'locked'; release(): Promise<void> };

export interface LockOptions<T> {
  /** Give up on a live holder after this long. */
  busyTimeoutMs: number;
  /** Asked before each attempt; a value ends the wait without taking the lock (a running daemon). */
  checkFirst?: () => Promise<T | undefined>;
  retryMs?: number;
}

// Paths locked by this process: after a container restart our pid may equal the dead holder's,
// so a lock naming our own pid is only ours if we really took it.
const heldHere = new Set<string>();

export async function acquireDataDirLock<T>(dataDir: string, options: LockOptions<T>): Promise<LockOutcome<T>> {
  const path = join(dataDir, 'pglite.lock');
  const deadline = Date.now() + options.busyTimeoutMs;
  for (;;) {
    const found = await options.checkFirst?.();
    if (found !== undefined) return { kind: 'found', found };
    if (await tryCreate(path)) {
      heldHere.add(path);
      let released = false;
      return {
        kind: 'locked',
        release: async () => {
          if (released) return;
          released = true;
          heldHere.delete(path);
          await unlink(path).catch(() => undefined);
        },
      };
    }
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (text === undefined) continue; // released between our attempt and the read
    const holder = parseHolder(text);
    const live = holder !== undefined && isProcessAlive(holder) && (holder !== process.pid || heldHere.has(path));
    if (!live) {
      // Re-read right before removing, so a fresh lock that replaced the stale one survives.
      const again = await readFile(path, 'utf8').catch(() => undefined);
      if (again === text) await unlink(path).catch(() => undefined);
      continue;
    }
    if (Date.now() >= deadline) {
      const who = holder === process.pid ? 'this process' : `pid ${holder}`;
      throw new Error(`${dataDir} is in use by another batch-router process (${who}); try again once it has finished`);
    }
    await delay(options.retryMs ?? 100);
  }
}

async function tryCreate(path: string): Promise<boolean> {
  // Written in full under a unique name first: link() then publishes it atomically, so nobody
  // ever reads an empty or half-written lock.
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(temporary, JSON.stringify({ pid: process.pid, at: new Date().toISOString() }));
  try {
    await link(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

function parseHolder(text: string): number | undefined {
  try {
    const pid = (JSON.parse(text) as { pid?: unknown }).pid;
    return typeof pid === 'number' && Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}
