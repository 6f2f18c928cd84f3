/**
 * The data-directory lock across hosts: lock files are written as another host, another boot or a
 * reused pid would leave them, and the lock must refuse (foreign) or take over (stale) accordingly.
 * `break-lock` runs as the real CLI.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireDataDirLock } from '../../src/db/data-dir-lock.ts';
import { currentBootId, processStartTime, thisProcess, type LockHolder } from '../../src/db/lock-holder.ts';
import { runCli } from '../cli/cli-runner.ts';

let dataDir: string;
const lockPath = () => join(dataDir, 'pglite.lock');
const writeLock = (holder: Partial<LockHolder>) => writeFile(lockPath(), JSON.stringify(holder));
const acquire = () => acquireDataDirLock(dataDir, { busyTimeoutMs: 50, retryMs: 10 });
const breakLock = (host: string) => runCli(['break-lock', '--host', host], { BATCH_ROUTER_DATA_DIR: dataDir, LOG_LEVEL: 'error' });

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'br-lock-'));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function expectTakenOver(): Promise<void> {
  const lock = await acquire();
  expect(lock.kind).toBe('locked');
  const written = JSON.parse(await readFile(lockPath(), 'utf8')) as LockHolder;
  expect(written).toMatchObject({ host: hostname(), pid: process.pid });
  if (lock.kind === 'locked') await lock.release();
  expect(existsSync(lockPath())).toBe(false);
}

/** A live process on this host that is not us, ended by the test. */
async function withSleeper<T>(use: (pid: number) => Promise<T>): Promise<T> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    return await use(child.pid!);
  } finally {
    child.kill('SIGKILL');
  }
}

describe('data-directory lock', () => {
  it('records host, boot id, pid and start time', async () => {
    const lock = await acquire();
    const written = JSON.parse(await readFile(lockPath(), 'utf8')) as LockHolder;
    expect(written.host).toBe(hostname());
    expect(written.pid).toBe(process.pid);
    expect(written.bootId).toBe(currentBootId());
    expect(written.startTime).toBe(processStartTime(process.pid));
    if (process.platform === 'linux') expect(typeof written.startTime).toBe('number');
    if (lock.kind === 'locked') await lock.release();
  });

  it('refuses a lock held on another host, naming the host and how to break it', async () => {
    // pid 1 is alive here too, which must not matter: it is another host's pid 1.
    await writeLock({ host: 'other-container', bootId: 'b0b0b0b0-0000', pid: 1, startTime: 5, at: '2026-01-01T00:00:00Z' });
    const refusal = acquire();
    await expect(refusal).rejects.toThrow('locked by a batch-router process on another host or boot (pid 1 on host "other-container"');
    await expect(refusal).rejects.toThrow('run "batch-router break-lock --host other-container"');
    expect(JSON.parse(await readFile(lockPath(), 'utf8'))).toMatchObject({ host: 'other-container' });
  });

  it('refuses a lock from another boot of a host with the same name', async () => {
    if (currentBootId() === undefined) return; // no boot id on this platform: nothing to compare
    await writeLock({ host: hostname(), bootId: 'another-boot', pid: process.pid, at: '' });
    await expect(acquire()).rejects.toThrow(`break-lock --host ${hostname()}`);
  });

  it('takes over a lock of this host whose process is gone', async () => {
    const gone = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
      child.on('exit', () => resolve(child.pid!));
    });
    await writeLock({ ...thisProcess(), pid: gone, startTime: 1 });
    await expectTakenOver();
  });

  it('treats a live pid with another start time as reused, so the lock is stale', async () => {
    await withSleeper(async (pid) => {
      const startTime = processStartTime(pid);
      if (startTime === undefined) return; // no /proc: start times cannot be compared here
      await writeLock({ ...thisProcess(), pid, startTime: startTime - 1 });
      await expectTakenOver();
    });
  });

  it('waits for, then refuses, a live process of this host', async () => {
    await withSleeper(async (pid) => {
      await writeLock({ ...thisProcess(), pid, startTime: processStartTime(pid) });
      await expect(acquire()).rejects.toThrow(`is in use by another batch-router process (pid ${pid} on host "${hostname()}"`);
    });
  });

  it('takes over a lock written before hosts were recorded when its pid is dead', async () => {
    await writeLock({ pid: 2 ** 22 + 7, at: '2026-01-01T00:00:00Z' }); // above Linux's pid_max
    await expectTakenOver();
  });
});

describe('batch-router break-lock', () => {
  it('removes the lock of a host named by the operator', async () => {
    await writeLock({ host: 'gone-container', bootId: 'x', pid: 1, at: '' });
    const result = await breakLock('gone-container');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('removed the lock of pid 1 on host "gone-container"');
    expect(existsSync(lockPath())).toBe(false);
    await expectTakenOver();
  }, 60_000);

  it('refuses when the lock names another host, or a process of this host that is running', async () => {
    await writeLock({ host: 'container-a', pid: 1, at: '' });
    const wrongHost = await breakLock('container-b');
    expect(wrongHost.code).toBe(1);
    expect(wrongHost.stderr).toContain('held by host "container-a", not "container-b"; nothing was changed');
    await withSleeper(async (pid) => {
      await writeLock({ ...thisProcess(), pid, startTime: processStartTime(pid) });
      const live = await breakLock(hostname());
      expect(live.code).toBe(1);
      expect(live.stderr).toContain(`held by a running process on this host (pid ${pid}`);
      expect(existsSync(lockPath())).toBe(true);
    });
    const usage = await breakLock('');
    expect(usage.code).toBe(2);
  }, 60_000);
});
