/**
 * The per-destination session: a small pool of SFTP connections. An upload takes one connection
 * for all its parts and gives it back, so consecutive uploads skip the SSH handshake; concurrent
 * uploads (the destination's `uploadConcurrency` tunable) each get their own, because one SFTP
 * channel interleaving two uploads' writes gains nothing and makes failures harder to attribute.
 */
import type { Logger } from 'pino';
import type { SftpConfig } from '../config.ts';
import { SftpConnection } from './connection.ts';

/**
 * An idle connection is closed after this long: a server's session limit should not be spent on
 * a destination with nothing to send, and a connection kept idle for long is the likeliest to have
 * been dropped by a firewall.
 */
const IDLE_CLOSE_MS = 60_000;

export class SftpSession {
  private readonly idle: Array<{ connection: SftpConnection; timer: NodeJS.Timeout }> = [];
  private readonly busy = new Set<SftpConnection>();
  private closed = false;

  constructor(
    readonly config: SftpConfig,
    readonly destinationId: string,
    readonly log: Logger,
  ) {
    if (config.insecureSkipHostKeyCheck) {
      log.warn(
        { destinationId, host: config.host },
        'SFTP host key checking is disabled (insecureSkipHostKeyCheck): any server answering at this address receives the files and credentials; pin "hostKeySha256" instead',
      );
    }
  }

  /** An idle live connection, or a new one. Throws the typed errors of {@link SftpConnection.open}. */
  async acquire(signal: AbortSignal): Promise<SftpConnection> {
    if (this.closed) throw new Error(`SFTP session of destination "${this.destinationId}" is closed`);
    for (let entry = this.idle.pop(); entry; entry = this.idle.pop()) {
      clearTimeout(entry.timer);
      if (!entry.connection.lost) {
        this.busy.add(entry.connection);
        return entry.connection;
      }
      void entry.connection.end();
    }
    const connection = await SftpConnection.open(this.config, this.log, signal);
    if (this.closed) {
      await connection.end(); // closed while connecting: nobody will give it back
      throw new Error(`SFTP session of destination "${this.destinationId}" is closed`);
    }
    this.busy.add(connection);
    return connection;
  }

  /** Gives a connection back; a lost one (or any, once closed) is ended instead of kept. */
  release(connection: SftpConnection): void {
    this.busy.delete(connection);
    if (this.closed || connection.lost) {
      void connection.end();
      return;
    }
    const timer = setTimeout(() => this.expire(connection), IDLE_CLOSE_MS);
    timer.unref(); // an idle connection must not keep the process alive
    this.idle.push({ connection, timer });
  }

  /** Ends a connection that must not be reused (it broke mid-call, or the call was cancelled). */
  async discard(connection: SftpConnection): Promise<void> {
    this.busy.delete(connection);
    await connection.end();
  }

  /** Ends every connection, idle or busy; later acquires fail. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.busy, ...this.idle.map((entry) => entry.connection)];
    for (const entry of this.idle) clearTimeout(entry.timer);
    this.idle.length = 0;
    this.busy.clear();
    await Promise.all(all.map((connection) => connection.end()));
  }

  /** Live connections (idle and busy), for tests and health output. */
  get size(): number {
    return this.busy.size + this.idle.length;
  }

  private expire(connection: SftpConnection): void {
    const index = this.idle.findIndex((entry) => entry.connection === connection);
    if (index >= 0) this.idle.splice(index, 1);
    void connection.end();
  }
}
