/**
 * `<dataDir>/pglite.lock`: at most one process at a time may have the PGlite files open. PGlite
 * has no lock of its own (two processes opening one directory each see only their own writes and
 * then overwrite each other's), and Node has no flock, so the lock is a file created atomically
 * with link(2) and naming its holder (host, boot id, pid, start time: see lock-holder.ts). A lock
 * whose process is gone from this host is stale and taken over; a lock from another host or boot is
 * refused until that holder releases it or an operator breaks it with `batch-router break-lock`.
 */
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { hostname } from 'node:os';
import { describeHolder, holderState, parseHolder, thisProcess, type LockHolder } from './lock-holder.ts';

export { isProcessAlive } from './lock-holder.ts';

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
    const state = holder === undefined ? 'stale' : holderState(holder);
    const ours = holder?.pid === process.pid && heldHere.has(path);
    if (state === 'stale' || (state === 'live' && holder?.pid === process.pid && !ours)) {
      // Re-read right before removing, so a fresh lock that replaced the stale one survives.
      const again = await readFile(path, 'utf8').catch(() => undefined);
      if (again === text) await unlink(path).catch(() => undefined);
      continue;
    }
    if (Date.now() >= deadline) throw new Error(busyMessage(dataDir, holder!, state === 'foreign', ours));
    await delay(options.retryMs ?? 100);
  }
}

function busyMessage(dataDir: string, holder: LockHolder, foreign: boolean, ours: boolean): string {
  if (!foreign) {
    const who = ours ? 'this process' : describeHolder(holder);
    return `${dataDir} is in use by another batch-router process (${who}); try again once it has finished`;
  }
  return (
    `${dataDir} is locked by a batch-router process on another host or boot (${describeHolder(holder)}), ` +
    `whose processes this host cannot see, so the lock is kept. If that host (container) is really gone, ` +
    `run "batch-router break-lock --host ${holder.host}" and start again; ` +
    `never do that while it may still run: two processes writing one PGlite directory corrupt it`
  );
}

export type BreakOutcome = { kind: 'none' } | { kind: 'broken'; holder: LockHolder };

/**
 * Removes a lock left by `host`, which the operator says is gone. Refuses when the lock names
 * another host (the wrong one was given) or a process on this host that is still running.
 */
export async function breakDataDirLock(dataDir: string, host: string): Promise<BreakOutcome> {
  const path = join(dataDir, 'pglite.lock');
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return { kind: 'none' };
  const holder = parseHolder(text);
  if (holder === undefined) {
    await unlink(path).catch(() => undefined);
    return { kind: 'none' };
  }
  if (holder.host !== host) {
    throw new Error(`the lock on ${dataDir} is held by host "${holder.host}", not "${host}"; nothing was changed`);
  }
  if (holder.host === hostname() && holderState(holder) === 'live') {
    throw new Error(`the lock on ${dataDir} is held by a running process on this host (${describeHolder(holder)}); stop it instead`);
  }
  const again = await readFile(path, 'utf8').catch(() => undefined);
  if (again !== text) throw new Error(`the lock on ${dataDir} changed while it was being broken; look again`);
  await unlink(path);
  return { kind: 'broken', holder };
}

async function tryCreate(path: string): Promise<boolean> {
  // Written in full under a unique name first: link() then publishes it atomically, so nobody
  // ever reads an empty or half-written lock.
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(temporary, JSON.stringify(thisProcess()));
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
