/**
 * The three `batch-router start` processes under test, each a real child running the real
 * executable with its own API port (kept across restarts so producers know where to find it).
 * A killed daemon is restarted by the suite, as a supervisor (systemd, Kubernetes) would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/wait-for.ts';
import { freePort } from './pg-cluster.ts';

const BIN = fileURLToPath(new URL('../../bin/batch-router.js', import.meta.url));

export interface Daemon {
  readonly name: string;
  readonly apiUrl: string;
  /** True while the process runs (between start and exit). */
  alive(): boolean;
}

export interface DaemonFleet {
  readonly daemons: readonly Daemon[];
  /** SIGKILLs one daemon and starts it again; resolves once its API answers. */
  killAndRestart(index: number): Promise<void>;
  /** Restarts any daemon that died on its own (say, when PostgreSQL went away); returns how many. */
  reviveDead(): Promise<number>;
  /** Unexpected exits seen so far (not our SIGKILLs), with the last lines of their output. */
  readonly crashes: string[];
  stop(): Promise<void>;
}

// If the test runner ends this process early (a timeout), no daemon may outlive it.
const orphans = new Set<ChildProcess>();
process.once('exit', () => orphans.forEach((child) => child.kill('SIGKILL')));

export async function startFleet(count: number, env: Record<string, string>): Promise<DaemonFleet> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(DATABASE_URL|BATCH_ROUTER_|LOG_LEVEL|PORT$)/.test(name)));
  const crashes: string[] = [];
  const slots = await Promise.all(Array.from({ length: count }, async (_, i) => {
    const port = await freePort();
    return { name: `chaos-${i + 1}`, port, apiUrl: `http://127.0.0.1:${port}`, child: undefined as ChildProcess | undefined, killing: false };
  }));

  async function launch(slot: (typeof slots)[number]): Promise<void> {
    const child = spawn(process.execPath, [BIN, 'start'], {
      env: {
        ...inherited, ...env, PORT: String(slot.port), BATCH_ROUTER_API_HOST: '127.0.0.1', BATCH_ROUTER_WORKER_ID: slot.name,
        // Each process its own data directory, as on separate machines.
        BATCH_ROUTER_DATA_DIR: `${env.BATCH_ROUTER_DATA_DIR}/${slot.name}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let tail = '';
    const keep = (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-2000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.on('exit', (code, signal) => {
      if (slot.child === child) slot.child = undefined;
      if (!slot.killing) crashes.push(`${slot.name} exited (${code ?? signal}): ${tail.trim().split('\n').slice(-3).join(' | ')}`);
    });
    slot.child = child;
    slot.killing = false;
    orphans.add(child);
    child.once('exit', () => orphans.delete(child));
    await waitFor(async () => {
      if (slot.child !== child) throw new Error(`${slot.name} exited during start: ${tail}`);
      return (await fetch(`${slot.apiUrl}/healthz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok).catch(() => false)) || undefined;
    }, { timeoutMs: 120_000, intervalMs: 200, message: `${slot.name} API did not come up` }).catch((error: unknown) => {
      throw new Error(`${String(error)}; its output ends: ${tail}`);
    });
  }

  await Promise.all(slots.map(launch));
  return {
    daemons: slots.map((slot) => ({ name: slot.name, apiUrl: slot.apiUrl, alive: () => slot.child !== undefined })),
    crashes,
    async killAndRestart(index) {
      const slot = slots[index]!;
      const child = slot.child;
      if (child) {
        slot.killing = true;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
      // Wait until it serves again: killing faster than a daemon restarts (about 30 s on a loaded
      // 2-core machine) leaves none up, and the API producer then cannot get through at all.
      await launch(slot);
    },
    async reviveDead() {
      const dead = slots.filter((slot) => slot.child === undefined);
      await Promise.all(dead.map(launch));
      return dead.length;
    },
    async stop() {
      await Promise.all(slots.map(async (slot) => {
        const child = slot.child;
        if (!child) return;
        slot.killing = true;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      }));
    },
  };
}
