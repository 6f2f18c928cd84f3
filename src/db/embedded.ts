/**
 * Embedded mode (no DATABASE_URL): the job store is PGlite, kept under `<dataDir>/pglite`, and
 * reached through the same pg/kysely code as a real server, over a loopback wire server.
 *
 * What we found about sharing PGlite between connections (pglite 0.5.14, pglite-socket 0.2.17):
 * - PGlite is one backend session with no locking of its own: two processes can open the same
 *   data directory at once and silently diverge, hence the `pglite.lock` file below.
 * - PGLiteSocketServer defaults to maxConnections 1 (a second client gets a raw "Too many
 *   connections" and a closed socket), so a daemon pool plus a CLI process cannot share it.
 * - With maxConnections > 1 it queues single protocol messages and only keeps one connection's
 *   messages together while PGlite is inside an explicit transaction block (BEGIN ... COMMIT).
 *   Outside one, an extended-protocol batch (Parse/Bind/Execute/Sync, which pg uses for every
 *   query with parameters) can interleave with another connection's: reproduced with a query
 *   carrying a 4 MB parameter (its Bind arrives in later TCP chunks) next to small queries,
 *   giving "bind message supplies 2 parameters, but prepared statement "" requires 1"; with
 *   matching parameter shapes the wrong statement would run. A throw inside its queue also
 *   leaves the queue stuck for everyone (upstream issue #1046, still open).
 * So we serve PGlite with our own server (pglite-wire.ts), which gives the session to one
 * connection from its first message until ReadyForQuery says idle: transactions from several
 * pool clients and processes run one after another, never interleaved, and row locks (FOR UPDATE
 * SKIP LOCKED) behave as in a single session. Pool size is free to be > 1.
 *
 * The daemon records `{ host, port, pid, startedAt }` in `<dataDir>/embedded.json` so CLI
 * commands in other processes connect to its server instead of opening the files themselves.
 */
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { Logger } from 'pino';
import { acquireDataDirLock, isProcessAlive } from './data-dir-lock.ts';
import { explainOpenFailure } from './data-dir-version.ts';
import { openPgliteDir } from './pglite-open.ts';
import { servePglite } from './pglite-wire.ts';

export interface EmbeddedRecord {
  host: string;
  port: number;
  pid: number;
  startedAt: string;
}

export interface EmbeddedTarget {
  host: string;
  port: number;
  /** True when this process opened PGlite (daemon, or a client with no daemon running). */
  inProcess: boolean;
  close(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  role: 'daemon' | 'client';
  /** Daemon only; 0 or unset picks a free port. */
  port?: number;
  log?: Logger;
  /** How long to wait for another process that is opening or briefly using the data directory. */
  busyTimeoutMs?: number;
  /** Called once if PGlite fails in this process; see WireServerOptions.onFailure. */
  onFailure?: (error: Error) => void;
}

export const recordPath = (dataDir: string): string => join(dataDir, 'embedded.json');

export async function openEmbedded(options: EmbeddedOptions): Promise<EmbeddedTarget> {
  const { dataDir, role, log } = options;
  await mkdir(dataDir, { recursive: true });
  const lock = await acquireDataDirLock(dataDir, {
    busyTimeoutMs: options.busyTimeoutMs ?? 15_000,
    // Checked before every attempt: a running daemon answers the question for both roles.
    checkFirst: async () => {
      const daemon = await findLiveDaemon(dataDir);
      if (!daemon) return undefined;
      if (role === 'daemon') {
        throw new Error(
          `another batch-router daemon (pid ${daemon.pid}) is already serving ${dataDir}; stop it or set BATCH_ROUTER_DATA_DIR`,
        );
      }
      return daemon;
    },
  });
  if (lock.kind === 'found') {
    const daemon = lock.found;
    log?.debug({ port: daemon.port, pid: daemon.pid }, 'using the embedded database of the running daemon');
    return { host: daemon.host, port: daemon.port, inProcess: false, close: async () => {} };
  }

  let pglite: PGlite | undefined;
  try {
    const pgliteDir = join(dataDir, 'pglite');
    pglite = await openPgliteDir(pgliteDir).catch(async (error: unknown) => {
      throw await explainOpenFailure(pgliteDir, error);
    });
    const server = await servePglite(pglite, {
      host: '127.0.0.1', port: role === 'daemon' ? (options.port ?? 0) : 0, log, onFailure: options.onFailure,
    });
    const record: EmbeddedRecord = { host: server.host, port: server.port, pid: process.pid, startedAt: new Date().toISOString() };
    // A client's in-process server is private to it, so only the daemon advertises its port.
    if (role === 'daemon') await writeRecord(dataDir, record);
    log?.info({ dataDir, port: server.port, role }, 'embedded database (PGlite) open');
    const opened = pglite;
    return {
      host: server.host,
      port: server.port,
      inProcess: true,
      close: async () => {
        if (role === 'daemon') await removeRecordIfOurs(dataDir, record);
        try {
          await server.close();
          // A failed PGlite is left alone: closing it runs more of the code that just failed.
          if (!server.failure()) await opened.close();
        } finally {
          await lock.release();
        }
      },
    };
  } catch (error) {
    await pglite?.close().catch(() => undefined);
    await lock.release();
    throw error;
  }
}

/** The recorded daemon, if its pid is alive and its port accepts connections. */
export async function findLiveDaemon(dataDir: string): Promise<EmbeddedRecord | undefined> {
  const record = await readRecord(dataDir);
  if (!record || !isProcessAlive(record.pid)) return undefined;
  return (await acceptsConnections(record.host, record.port)) ? record : undefined;
}

export async function readRecord(dataDir: string): Promise<EmbeddedRecord | undefined> {
  let text: string;
  try {
    text = await readFile(recordPath(dataDir), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as Partial<EmbeddedRecord>;
    if (typeof parsed.port !== 'number' || typeof parsed.pid !== 'number' || typeof parsed.host !== 'string') return undefined;
    return parsed as EmbeddedRecord;
  } catch {
    return undefined; // torn or foreign content: treated like no daemon
  }
}

function acceptsConnections(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

// Written to a temporary name and renamed, so readers never see half a file.
async function writeRecord(dataDir: string, record: EmbeddedRecord): Promise<void> {
  const temporary = `${recordPath(dataDir)}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(record, null, 2)}\n`);
  await rename(temporary, recordPath(dataDir));
}

async function removeRecordIfOurs(dataDir: string, record: EmbeddedRecord): Promise<void> {
  const current = await readRecord(dataDir);
  if (current?.pid !== record.pid || current.port !== record.port) return;
  await unlink(recordPath(dataDir)).catch(() => undefined);
}
