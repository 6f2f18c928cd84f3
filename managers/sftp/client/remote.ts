/**
 * The few file operations an upload needs, over one connection, each failing with a typed error
 * that says what was being done (see errors.ts). Paths are relative to the login directory.
 */
import { posix } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import type { SftpConnection } from './connection.ts';
import { renameFailure, transferFailure } from './errors.ts';

export class Remote {
  constructor(
    readonly connection: SftpConnection,
    private readonly signal: AbortSignal,
  ) {}

  /** Creates `dir` and its parents when missing. */
  async ensureDir(dir: string): Promise<void> {
    if (dir === '.') return;
    const client = this.connection.client;
    await this.call(`creating directory ${dir}`, async () => {
      try {
        await client.mkdir(dir, true);
      } catch (error) {
        // Another upload of this destination may have created it meanwhile (mkdir then fails).
        if ((await client.exists(dir)) !== 'd') throw error;
      }
    });
  }

  /** Names and sizes of the regular files in `dir`. */
  async files(dir: string): Promise<Map<string, number>> {
    const entries = await this.call(`listing ${dir}`, () => this.connection.client.list(dir));
    return new Map(entries.filter((entry) => entry.type === '-').map((entry) => [entry.name, entry.size]));
  }

  /**
   * Streams `body` into `path` (created or truncated, mode 0644), a few WRITE requests in flight
   * at once. Resolves once the server acknowledged every write and the CLOSE, so a following stat
   * sees every byte. Done on the SFTP channel directly: ssh2's write stream (behind the library's
   * put) swallows a failed WRITE once it has destroyed itself, so a full disk looked like success,
   * and it never settles when the connection is ended under it.
   */
  async write(path: string, body: AsyncIterable<Buffer>): Promise<void> {
    const channel = this.connection.channel;
    await this.call(`writing ${path}`, async () => {
      const handle = await this.request<Buffer>((done) => channel.open(path, 'w', { mode: 0o644 }, done));
      const close = () => this.request<void>((done) => channel.close(handle, done));
      try {
        await writeAll(channel, handle, body, this.request.bind(this));
      } catch (error) {
        await close().catch(() => undefined);
        throw error;
      }
      await close(); // some servers report quota or disk errors only here
    });
  }

  async size(path: string): Promise<number> {
    return (await this.call(`checking the size of ${path}`, () => this.connection.client.stat(path))).size;
  }

  async exists(path: string): Promise<boolean> {
    return (await this.call(`looking for ${path}`, () => this.connection.client.exists(path))) !== false;
  }

  /** Renames; a refusal names `atomicRename` as the fix (see renameFailure). */
  async rename(from: string, to: string): Promise<void> {
    try {
      this.assertConnected();
      await this.connection.client.rename(from, to);
    } catch (error) {
      throw renameFailure(error, from, to, { lost: this.connection.lost, signal: this.signal });
    }
  }

  /** Removes a file; one that is already gone is fine. */
  async remove(path: string): Promise<void> {
    await this.call(`removing ${path}`, () => this.connection.client.delete(path, true));
  }

  /** `dir` joined with a file name, without a "./" prefix for the login directory itself. */
  static join(dir: string, name: string): string {
    return dir === '.' ? name : posix.join(dir, name);
  }

  private async call<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      this.assertConnected();
      return await op();
    } catch (error) {
      throw transferFailure(error, what, { lost: this.connection.lost, signal: this.signal });
    }
  }

  /**
   * One request on the raw channel. A request issued after the connection died would never be
   * answered (ssh2 fails only the requests pending when it closed), so it fails at once instead.
   */
  private request<T>(issue: (done: (error: Error | null | undefined, value?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.assertConnected();
      issue((error, value) => (error ? reject(error) : resolve(value as T)));
    });
  }

  private assertConnected(): void {
    if (this.connection.lost) throw new Error('No SFTP connection available: the connection was lost');
  }
}

/** Enough requests in flight to hide the round trip to a distant server, few enough to bound memory. */
const WRITES_IN_FLIGHT = 8;

type Request = <T>(issue: (done: (error: Error | null | undefined, value?: T) => void) => void) => Promise<T>;

/** Writes the chunks in order at increasing offsets; the first failure stops it and is thrown. */
async function writeAll(channel: SFTPWrapper, handle: Buffer, body: AsyncIterable<Buffer>, request: Request): Promise<void> {
  let failure: { error: unknown } | undefined;
  const pending: Array<Promise<void>> = [];
  let offset = 0;
  for await (const chunk of body) {
    const at = offset;
    offset += chunk.length;
    // Caught at once, so a failure while an earlier write is awaited is never an unhandled rejection.
    const written = request<void>((done) => channel.write(handle, chunk, 0, chunk.length, at, (error) => done(error)))
      .catch((error: unknown) => void (failure ??= { error }));
    pending.push(written);
    if (pending.length >= WRITES_IN_FLIGHT) await pending.shift();
    if (failure) throw failure.error;
  }
  await Promise.all(pending);
  if (failure) throw failure.error;
}
