/**
 * Runner ⇄ child plumbing. Every process of a benchmark (the system under test, the fake receiver)
 * is its own Node process, so its CPU time and peak RSS are its own and no two of them share an
 * event loop. They talk over Node's IPC channel with numbered request/reply messages; the first
 * message a child sends is `{ ready }`, sent only after its imports and setup are done, so nothing
 * the runner times includes module loading or TypeScript compilation.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** CPU and memory of one process, as the process itself sees them. */
export interface ProcessStats {
  /** User + system CPU seconds since the child's `markStart()` (its whole life if never marked). */
  cpuSeconds: number;
  /** Peak resident set size over the whole life of the process, in MiB. */
  peakRssMb: number;
  /**
   * Peak RSS when `markStart()` was called, i.e. what loading code and setup took before the
   * measured work began (under tsx that includes the TypeScript loader). MiB.
   */
  peakRssAtStartMb: number;
}

type Request = { id: number; kind: string; body?: unknown };
type Reply = { id: number; ok: true; body: unknown } | { id: number; ok: false; error: string };
type Handler = (body: unknown) => unknown;

export interface BenchChild<Ready> {
  readonly pid: number;
  /** What the child sent with its ready message (e.g. the sink's URL). */
  readonly ready: Ready;
  request<T>(kind: string, body?: unknown, timeoutMs?: number): Promise<T>;
  /** Sends `stop` (the child replies with its last stats, then exits); kills it if it lingers. */
  stop(timeoutMs?: number): Promise<unknown>;
}

/**
 * Forks `bench/<script>` under tsx and resolves once it reports ready. `nodeOptions` are extra
 * Node flags for this child only (e.g. `--cpu-prof` to profile the system under test).
 */
export async function spawnBenchChild<Ready>(
  script: string,
  env: Record<string, string>,
  nodeOptions: readonly string[] = [],
  readyTimeoutMs = 60_000,
): Promise<BenchChild<Ready>> {
  const path = fileURLToPath(new URL(`../${script}`, import.meta.url));
  // stdout/stderr are inherited so a child's warnings reach the person running the bench.
  const child: ChildProcess = fork(path, [], {
    execArgv: ['--import', 'tsx', ...nodeOptions],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then((code) => {
    for (const p of pending.values()) p.reject(new Error(`${script} exited (code ${code}) before answering`));
    pending.clear();
  });

  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not report ready within ${readyTimeoutMs} ms`)), readyTimeoutMs);
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve((message as { ready: Ready }).ready);
    });
    void exited.then((code) => reject(new Error(`${script} exited (code ${code}) during setup`)));
  });
  child.on('message', (message) => {
    const reply = message as Reply;
    const waiter = pending.get(reply.id);
    if (!waiter) return;
    pending.delete(reply.id);
    if (reply.ok) waiter.resolve(reply.body);
    else waiter.reject(new Error(`${script}: ${reply.error}`));
  });

  const request = <T>(kind: string, body?: unknown, timeoutMs = 120_000): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${script} did not answer "${kind}" within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v as T)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      child.send({ id, kind, body } satisfies Request);
    });

  return {
    pid: child.pid!,
    ready,
    request,
    async stop(timeoutMs = 60_000) {
      if (child.exitCode !== null) return undefined;
      const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await request('stop', undefined, timeoutMs).catch(() => undefined);
      } finally {
        await exited;
        clearTimeout(killer);
      }
    },
  };
}

/**
 * Child side: reports `ready`, then answers requests with `handlers`. `stop` is answered first and
 * the process exits right after, so the reply (usually final stats) is never lost to the exit.
 * A child whose runner died exits too, instead of lingering and loading the machine.
 */
export function serveRunner(ready: unknown, handlers: Record<string, Handler> & { stop: Handler }): void {
  if (!process.send) throw new Error('run this through bench/run.ts (it needs an IPC channel)');
  process.on('disconnect', () => process.exit(1));
  process.on('message', (message) => {
    const { id, kind, body } = message as Request;
    const handler = handlers[kind];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown request "${kind}"`);
        return handler(body);
      })
      .then(
        (result) => send({ id, ok: true, body: result }, kind === 'stop'),
        (error: unknown) => send({ id, ok: false, error: error instanceof Error ? error.message : String(error) }, kind === 'stop'),
      );
  });
  process.send({ ready });
}

function send(reply: Reply, thenExit: boolean): void {
  process.send!(reply, undefined, undefined, () => {
    if (thenExit) process.exit(0);
  });
}

// resourceUsage().maxRSS is in KiB (getrusage ru_maxrss on Linux).
const peakRssMb = (): number => process.resourceUsage().maxRSS / 1024;
let cpuBase = process.cpuUsage();
let rssAtStart = peakRssMb();

/** Starts the window that `processStats()` reports (call when the measured work begins). */
export function markStart(): void {
  cpuBase = process.cpuUsage();
  rssAtStart = peakRssMb();
}

export function processStats(): ProcessStats {
  const cpu = process.cpuUsage(cpuBase);
  return {
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    peakRssMb: peakRssMb(),
    peakRssAtStartMb: rssAtStart,
  };
}
