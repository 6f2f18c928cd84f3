/**
 * Serves one PGlite instance over the PostgreSQL wire protocol so that pg pools in this process
 * and CLI commands in other processes can share it. PGlite is a single backend session, so the
 * server gives that session to one connection at a time, from its first message until PGlite
 * reports ReadyForQuery with status 'I' (idle, no transaction open). Every other connection
 * waits. See embedded.ts for why this exists instead of PGLiteSocketServer.
 *
 * Consequences for callers: transactions are fully isolated (they run one after another), but
 * session state (SET without LOCAL, session advisory locks, named prepared statements, temp
 * tables) is shared by everyone, as behind a transaction-mode pooler. LISTEN is the exception:
 * notifications reach the connections that listen, not the one that sent them
 * (pglite-wire-notify.ts). A connection that
 * awaits another connection while holding a transaction deadlocks until the idle-owner timeout.
 */
import net from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import type { Logger } from 'pino';
import { Connection, type SessionGate, type Shared } from './pglite-wire-connection.ts';
import { NotificationRouter } from './pglite-wire-notify.ts';

export interface WireServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /**
   * How long a connection may keep the session between messages (inside a transaction or an
   * unfinished extended-protocol batch) while others wait, before it is terminated and rolled
   * back; like idle_in_transaction_session_timeout. 0 disables.
   */
  idleOwnerTimeoutMs?: number;
  maxConnections?: number;
  log?: Logger;
  /**
   * Called once when PGlite fails (throws rather than answering); every connection is then cut
   * off and no message reaches PGlite again. The daemon stops on it (embedded.ts).
   */
  onFailure?: (error: Error) => void;
}

export interface WireServer {
  host: string;
  port: number;
  /** The PGlite failure that closed the server to queries, if one happened. */
  failure(): Error | undefined;
  /** Open connections, and how many of them are queued for the session (for tests and metrics). */
  stats(): { connections: number; waiting: number };
  /** Stops listening, lets connections end by themselves for up to graceMs, then cuts them off. */
  close(graceMs?: number): Promise<void>;
}

export async function servePglite(pglite: PGlite, options: WireServerOptions = {}): Promise<WireServer> {
  const host = options.host ?? '127.0.0.1';
  const lock = new SessionLock(options.idleOwnerTimeoutMs ?? 60_000);
  const connections = new Set<Connection>();
  const shared: Shared = {
    pglite,
    lock,
    log: options.log,
    failure: undefined,
    notifications: new NotificationRouter(),
    onFailure: (error) => {
      options.log?.fatal({ err: error }, 'the embedded database (PGlite) failed; refusing every further query');
      for (const conn of connections) void conn.terminate('XX000', `embedded database failed: ${error.message}`);
      options.onFailure?.(error);
    },
  };
  const server = net.createServer((socket) => {
    const conn = new Connection(socket, shared);
    connections.add(conn);
    void conn.finished.then(() => connections.delete(conn));
  });
  server.maxConnections = options.maxConnections ?? 100;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      // Later errors (accept failing under fd exhaustion) must not crash the daemon.
      server.on('error', (err) => options.log?.error({ err }, 'embedded database server error'));
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    host,
    port: address.port,
    failure: () => shared.failure,
    stats: () => ({ connections: connections.size, waiting: lock.waitingCount() }),
    close: (graceMs = 2_000) =>
      (closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        // Clients closing on their own (a pool ending just before us sends Terminate and does not
        // wait) get a moment; whoever is left is told why and cut off. Waiting for each
        // connection's rollback leaves PGlite quiescent before the caller closes it.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.all([...connections].map((conn) => conn.finished)),
          new Promise((resolve) => (timer = setTimeout(resolve, graceMs))),
        ]);
        clearTimeout(timer);
        await Promise.all([...connections].map((conn) => conn.terminate('57P01', 'embedded database is shutting down')));
        await stopped;
      })()),
  };
}

/** Hands the single backend session to one connection at a time, first come first served. */
class SessionLock implements SessionGate {
  private owner: Connection | undefined;
  private busy = false;
  private waiters: Array<{ conn: Connection; grant: (granted: boolean) => void }> = [];
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly idleOwnerTimeoutMs: number) {}

  /** Resolves true once `conn` owns the session, false if `conn` gave up waiting (closed). */
  acquire(conn: Connection): Promise<boolean> {
    if (this.owner === undefined || this.owner === conn) {
      this.owner = conn;
      this.busy = true;
      this.clearIdleTimer();
      return Promise.resolve(true);
    }
    return new Promise((grant) => {
      this.waiters.push({ conn, grant });
      this.armIdleTimer();
    });
  }

  /** Called after each message the owner ran; `idle` means the backend is back to idle. */
  finished(conn: Connection, idle: boolean): void {
    if (this.owner !== conn) return;
    this.busy = false;
    if (idle) this.release(conn);
    else this.armIdleTimer();
  }

  waitingCount(): number {
    return this.waiters.length;
  }

  owns(conn: Connection): boolean {
    return this.owner === conn;
  }

  release(conn: Connection): void {
    const waiting = this.waiters.findIndex((w) => w.conn === conn);
    if (waiting >= 0) this.waiters.splice(waiting, 1)[0]!.grant(false);
    if (this.owner !== conn) return;
    this.clearIdleTimer();
    const next = this.waiters.shift();
    this.owner = next?.conn;
    this.busy = next !== undefined;
    next?.grant(true);
  }

  private armIdleTimer(): void {
    if (this.idleTimer || this.busy || !this.owner || this.waiters.length === 0) return;
    if (this.idleOwnerTimeoutMs <= 0) return;
    const owner = this.owner;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.owner === owner && !this.busy && this.waiters.length > 0) {
        void owner.terminate('25P03', 'terminating connection: it kept the embedded database session idle while others waited');
      }
    }, this.idleOwnerTimeoutMs);
    this.idleTimer.unref();
  }

  private clearIdleTimer(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}
