/**
 * One client connection of the PGlite wire server (pglite-wire.ts): frames the frontend byte
 * stream into whole protocol messages, runs them against the shared PGlite session while owning
 * it (an extended-protocol batch up to its Sync in one call), sends PGlite's answer back less the
 * notifications that belong to other connections (pglite-wire-notify.ts), and puts the session
 * back in a clean state (Sync, ROLLBACK) when the client goes away.
 */
import type net from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import type { Logger } from 'pino';
import { guardMessage, statementText } from './pglite-wire-guard.ts';
import { listenChanges, type ListenChange, type NotificationRouter } from './pglite-wire-notify.ts';
import {
  CANCEL_REQUEST, EXTENDED, GSSENC_REQUEST, IDLE, PROTOCOL_3, SSL_REQUEST, SYNC, TERMINATE, fatalError, scanAnswer, simpleQuery,
} from './pglite-wire-protocol.ts';

const MAX_MESSAGE_BYTES = 1 << 30; // PostgreSQL's own limit for one message
const SYNC_MESSAGE = Buffer.from([SYNC, 0, 0, 0, 4]);
const ROLLBACK = simpleQuery('ROLLBACK');
/** Undoes what a whole-session client (a backup's pg_dump) set for the session. */
const RESET_SESSION = simpleQuery('DEALLOCATE ALL; RESET ALL');
/**
 * A client with this application_name keeps the session from its startup to its end, instead of
 * giving it up at every idle ReadyForQuery: pg_dump sets session state (an empty search_path,
 * DateStyle) that the daemon's queries must never run under. Used by `batch-router backup`
 * (src/db/backup/pg-dump.ts), which is short and never idles while it holds the session.
 */
export const WHOLE_SESSION_APPLICATION_NAME = 'batch-router-backup';

/** The part of the session lock a connection uses; implemented in pglite-wire.ts. */
export interface SessionGate {
  acquire(conn: Connection): Promise<boolean>;
  finished(conn: Connection, idle: boolean): void;
  owns(conn: Connection): boolean;
  release(conn: Connection): void;
}

export interface Shared {
  pglite: PGlite;
  lock: SessionGate;
  log: Logger | undefined;
  /**
   * Set when PGlite itself failed (threw instead of answering with an ErrorResponse). Its state is
   * unknown from then on, and calling it again can hang the process, so nothing reaches it again.
   */
  failure: Error | undefined;
  /** Told once, on the first failure, so the process can stop with a clear message. */
  onFailure(error: Error): void;
  notifications: NotificationRouter;
}

export class Connection {
  /** Resolves once the connection is gone and the session has been cleaned up after it. */
  readonly finished: Promise<void>;
  private resolveFinished!: () => void;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private started = false;
  private wholeSession = false;
  private closed = false;
  private pumping = false;
  private drained: Promise<void> = Promise.resolve();
  /** LISTEN/UNLISTEN run by this client whose transaction has not ended yet. */
  private listenChanges: ListenChange[] = [];
  private relisten = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly shared: Shared,
  ) {
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      this.pump();
    });
    socket.on('error', (err) => shared.log?.debug({ err }, 'embedded database client socket error'));
    socket.on('close', () => void this.shutdown());
  }

  /** Ends the connection, first telling the client why when a SQLSTATE is given. */
  terminate(code?: string, message?: string): Promise<void> {
    if (code && message && this.socket.writable) this.socket.write(fatalError(code, message));
    this.socket.end(() => this.socket.destroy());
    // A client that stops reading would keep the socket (and server.close()) open forever.
    setTimeout(() => this.socket.destroy(), 1_000).unref();
    void this.shutdown();
    return this.finished;
  }

  /** Writes a notification another connection's statement produced (the server routes them). */
  notify(message: Buffer): void {
    if (this.socket.writable) this.socket.write(message);
  }

  // One drain loop per connection keeps its messages in order; `pumping` is set before the loop
  // starts so a loop that finishes synchronously cannot leave it stuck on.
  private pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    this.drained = this.drain();
  }

  private async drain(): Promise<void> {
    try {
      for (let batch = this.takeBatch(); batch && !this.closed; batch = this.takeBatch()) await this.handle(batch);
    } catch (err) {
      this.shared.log?.warn({ err }, 'embedded database connection failed; closing it');
      this.socket.destroy();
    } finally {
      this.pumping = false;
    }
  }

  /**
   * The next message, or, for the extended protocol, every whole message already received up to
   * and including its Sync: they go to PGlite in one call, which costs far less than one call per
   * Parse, Bind, Describe, Execute and Sync. The answer is the same, since PGlite reads its input
   * message by message either way.
   */
  private takeBatch(): Buffer[] | undefined {
    const first = this.take();
    if (!first) return undefined;
    const batch = [first];
    if (!this.started || !EXTENDED.has(first[0]!)) return batch;
    for (let next = this.peekType(); next !== undefined && (EXTENDED.has(next) || next === SYNC); next = this.peekType()) {
      const message = this.take();
      if (!message) break;
      batch.push(message);
      if (next === SYNC) break;
    }
    return batch;
  }

  /** The type of the next message if it has arrived whole. */
  private peekType(): number | undefined {
    if (this.pendingBytes < 5) return undefined;
    if (this.pending[0]!.length < 5) this.pending = [Buffer.concat(this.pending)];
    const head = this.pending[0]!;
    return this.pendingBytes >= 1 + head.readInt32BE(1) ? head[0] : undefined;
  }

  /** Cuts the next whole message off the buffered input, or returns undefined. */
  private take(): Buffer | undefined {
    const headerBytes = this.started ? 5 : 8;
    if (this.pendingBytes < headerBytes) return undefined;
    if (this.pending[0]!.length < headerBytes) this.pending = [Buffer.concat(this.pending)];
    const head = this.pending[0]!;
    const total = this.started ? 1 + head.readInt32BE(1) : head.readInt32BE(0);
    if (total < headerBytes || total > MAX_MESSAGE_BYTES) {
      throw new Error(`malformed frontend message (length ${total})`);
    }
    if (this.pendingBytes < total) return undefined;
    const all = this.pending.length === 1 ? head : Buffer.concat(this.pending);
    const rest = all.subarray(total);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    return all.subarray(0, total);
  }

  private async handle(batch: Buffer[]): Promise<void> {
    const message = batch[0]!;
    if (!this.started) {
      const code = message.readInt32BE(4);
      // Loopback only, so no TLS; the client carries on in plain text after 'N'.
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) return void this.socket.write('N');
      // PGlite cannot interrupt a running statement, so cancellation is not offered.
      if (code === CANCEL_REQUEST) return void this.socket.end();
      // Not awaited, here or below: terminate waits for this very drain loop to end.
      if (code !== PROTOCOL_3) return void this.terminate('08P01', `unsupported protocol ${code}`);
      this.started = true;
      this.wholeSession = startupParameter(message, 'application_name') === WHOLE_SESSION_APPLICATION_NAME;
    } else if (message[0] === TERMINATE) {
      // Answered here: PGlite ignores it anyway, and the session is not this client's to end.
      return void this.socket.end();
    }
    const input = this.guarded(batch);
    if (input === undefined) return;
    const { lock } = this.shared;
    if (!(await lock.acquire(this))) return;
    if (this.shared.failure) {
      lock.release(this);
      return void this.terminate('XX000', `embedded database failed and is closed: ${this.shared.failure.message}; restart batch-router`);
    }
    let status: number | undefined;
    try {
      status = await this.run(input, true);
      // A LISTEN again, in the same turn, for the channels others still want (pglite-wire-notify.ts).
      if (status === IDLE && this.relisten) {
        this.relisten = false;
        await this.run(simpleQuery(this.shared.notifications.relistenSql()), false);
      }
    } finally {
      lock.finished(this, status === IDLE && !this.wholeSession);
    }
  }

  /** The batch as PGlite gets it (see guardMessage), noting the LISTENs and UNLISTENs it holds. */
  private guarded(batch: Buffer[]): Buffer | undefined {
    const kept: Buffer[] = [];
    for (const message of batch) {
      const guarded = guardMessage(message);
      if (guarded === undefined) continue;
      kept.push(guarded);
      const text = statementText(guarded);
      if (text !== undefined) this.listenChanges.push(...listenChanges(text));
    }
    if (kept.length === 0) return undefined;
    return kept.length === 1 ? kept[0] : Buffer.concat(kept);
  }

  /**
   * Runs messages and returns the status of the last ReadyForQuery in the answer, if any. The
   * answer goes to this client when `reply` is set, less the notifications of channels it does not
   * LISTEN to; those go to their listeners.
   */
  private async run(input: Uint8Array, reply: boolean): Promise<number | undefined> {
    const shared = this.shared;
    const chunks: Buffer[] = [];
    try {
      await shared.pglite.runExclusive(() =>
        shared.pglite.execProtocolRawStream(input, {
          // Copy: the chunk is a view into PGlite's memory, reused by the next message.
          onRawData: (data) => void chunks.push(Buffer.from(data)),
        }),
      );
    } catch (thrown) {
      // SQL errors come back as ErrorResponse messages; a throw is PGlite itself failing.
      const error = thrown instanceof Error ? thrown : new Error(String(thrown));
      if (!shared.failure) {
        shared.failure = error;
        shared.onFailure(error);
      }
      throw error;
    }
    const answer = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const scan = scanAnswer(answer);
    const routed = shared.notifications.route(this, answer, scan.notifications);
    if (reply && routed.length > 0 && this.socket.writable) this.socket.write(routed);
    if (scan.undone) this.listenChanges = [];
    if (scan.status === IDLE && this.listenChanges.length > 0) {
      if (shared.notifications.apply(this, this.listenChanges)) this.relisten = true;
      this.listenChanges = [];
    }
    return scan.status;
  }

  private async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const { lock } = this.shared;
    if (!lock.owns(this)) lock.release(this); // stop waiting for the session
    await this.drained; // a statement already running in PGlite cannot be stopped
    if (lock.owns(this) && !this.shared.failure) {
      try {
        // Sync ends a half-sent extended-protocol batch; ROLLBACK ends an open transaction.
        const status = await this.run(SYNC_MESSAGE, false);
        if (status !== IDLE) await this.run(ROLLBACK, false);
        if (this.wholeSession) await this.run(RESET_SESSION, false);
      } catch (err) {
        this.shared.log?.error({ err }, 'could not reset the embedded database session after a client left');
      }
    }
    this.shared.notifications.drop(this);
    lock.release(this);
    this.resolveFinished();
  }
}

/** A parameter of a startup message (length, protocol, then name\0value\0 pairs, then \0). */
function startupParameter(message: Buffer, name: string): string | undefined {
  const fields = message.toString('utf8', 8, message.length - 1).split('\0');
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
