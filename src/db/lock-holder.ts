/**
 * Who holds a data-directory lock, and whether that holder can still be running. A process id
 * alone cannot say: two containers sharing a volume have separate pid spaces (pid 1 in each), and
 * after a restart a new process may reuse a dead holder's pid. So a lock records the host name,
 * the kernel's boot id, the pid and the process start time, and is judged in that order.
 */
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';

export interface LockHolder {
  host: string;
  /** /proc/sys/kernel/random/boot_id; absent where the platform has none. */
  bootId?: string;
  pid: number;
  /** Process start time in clock ticks after boot (/proc/<pid>/stat field 22); absent off Linux. */
  startTime?: number;
  at: string;
}

/**
 * `foreign`: another host or another boot, whose processes this machine cannot see; never taken
 * over automatically (`break-lock --host` does that once the operator knows that host is gone).
 * `live`: a running process here. `stale`: its process is gone (or its pid now belongs to another).
 */
export type HolderState = 'foreign' | 'live' | 'stale';

function readTrimmed(path: string): string | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return text === '' ? undefined : text;
  } catch {
    return undefined;
  }
}

export function currentBootId(): string | undefined {
  return readTrimmed('/proc/sys/kernel/random/boot_id');
}

/** Start time of a process, or undefined when it does not exist or the platform has no /proc. */
export function processStartTime(pid: number): number | undefined {
  const stat = readTrimmed(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]); // field 22; fields[0] is field 3
  return Number.isSafeInteger(ticks) ? ticks : undefined;
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

export function thisProcess(): LockHolder {
  const holder: LockHolder = { host: hostname(), pid: process.pid, at: new Date().toISOString() };
  const bootId = currentBootId();
  if (bootId !== undefined) holder.bootId = bootId;
  const startTime = processStartTime(process.pid);
  if (startTime !== undefined) holder.startTime = startTime;
  return holder;
}

export function parseHolder(text: string): LockHolder | undefined {
  let value: Partial<LockHolder>;
  try {
    value = JSON.parse(text) as Partial<LockHolder>;
  } catch {
    return undefined;
  }
  const { pid, host, bootId, startTime, at } = value;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return undefined;
  return {
    // Locks written before hosts were recorded name only a pid: judge them as this host's.
    host: typeof host === 'string' && host !== '' ? host : hostname(),
    ...(typeof bootId === 'string' ? { bootId } : {}),
    ...(typeof startTime === 'number' ? { startTime } : {}),
    pid,
    at: typeof at === 'string' ? at : '',
  };
}

export function holderState(holder: LockHolder): HolderState {
  if (holder.host !== hostname()) return 'foreign';
  const bootId = currentBootId();
  // Same name but another boot: a rebooted host, or another machine that shares the name.
  // Either way its processes are not ours to judge.
  if (holder.bootId !== undefined && bootId !== undefined && holder.bootId !== bootId) return 'foreign';
  if (!isProcessAlive(holder.pid)) return 'stale';
  if (holder.startTime === undefined) return 'live';
  const startTime = processStartTime(holder.pid);
  // Same pid, different start: the pid was reused by an unrelated process.
  return startTime === undefined || startTime === holder.startTime ? 'live' : 'stale';
}

export function describeHolder(holder: LockHolder): string {
  return `pid ${holder.pid} on host "${holder.host}"${holder.bootId ? ` (boot ${holder.bootId.slice(0, 8)})` : ''}${holder.at ? `, since ${holder.at}` : ''}`;
}
