/**
 * A real SFTP server in-process, built on the `ssh2` package's Server: real SSH handshake with a
 * host key generated at start, password and public-key login, and the SFTP protocol answered from
 * a temp directory on disk (sftp-fs.ts). Tests script faults (denied paths, dropped connections,
 * refused renames, a full disk) and read the files straight from `root`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, utils, type Connection, type ParsedKey } from 'ssh2';
import { serveSftp, type SftpFaults, type SftpRecord } from './sftp-fs.ts';

export type { SftpFaults } from './sftp-fs.ts';

export interface FakeSftpServer {
  readonly host: string;
  readonly port: number;
  /** The directory served as the client's "/" (and login directory). */
  readonly root: string;
  readonly username: string;
  readonly password: string;
  /** The host key's fingerprint as `ssh-keygen -lf` prints it. */
  readonly hostKeySha256: string;
  /** The host public key as an OpenSSH `authorized_keys` line, for checking with ssh-keygen. */
  readonly hostPublicKey: string;
  /** A client key the server accepts: OpenSSH private key text, encrypted with `passphrase`. */
  readonly clientKey: { readonly privateKey: string; readonly passphrase: string };
  /** Mutable: a test may arm or clear a fault at any point. */
  readonly faults: SftpFaults;
  readonly record: SftpRecord;
  /** TCP connections accepted so far, including refused logins. */
  readonly connections: () => number;
  /** Logins that succeeded so far. */
  readonly logins: () => number;
  /** Raw config for the sftp manager pointing here (password login, pinned host key). */
  config(overrides?: Record<string, unknown>): Record<string, unknown>;
  close(): Promise<void>;
}

/** Starts a server on a free loopback port with a fresh host key and temp directory. */
export async function startFakeSftpServer(options: { hostKeyType?: 'ed25519' | 'rsa' } = {}): Promise<FakeSftpServer> {
  const root = await mkdtemp(join(tmpdir(), 'br-sftp-root-'));
  const hostKey =
    options.hostKeyType === 'rsa' ? utils.generateKeyPairSync('rsa', { bits: 2048 }) : usableEd25519Pair();
  const passphrase = 'correct horse battery staple';
  const clientKey = usableEd25519Pair({ passphrase, cipher: 'aes256-ctr', rounds: 4 });
  const allowedKey = parsed(clientKey.public);
  const username = 'partner';
  const password = 'sftp-test-password';
  const faults: SftpFaults = {};
  const record: SftpRecord = { bytesWritten: new Map(), requests: [], renamed: [] };
  const open = new Set<Connection>();
  let connections = 0;
  let logins = 0;

  const server = new Server({ hostKeys: [hostKey.private] }, (client) => {
    connections += 1;
    open.add(client);
    client.on('close', () => open.delete(client));
    // A client that vanishes mid-handshake or is dropped on purpose must not crash the test process.
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => {
      if (ctx.username !== username) return ctx.reject(['password', 'publickey']);
      if (ctx.method === 'password' && sameText(ctx.password, password)) return ctx.accept();
      if (ctx.method === 'publickey' && ctx.key.algo === allowedKey.type && ctx.key.data.equals(allowedKey.getPublicSSH())) {
        // Without a signature the client only asks whether this key would do.
        if (!ctx.signature || !ctx.blob) return ctx.accept();
        if (allowedKey.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) return ctx.accept();
      }
      ctx.reject(['password', 'publickey']);
    });
    client.on('ready', () => {
      logins += 1;
      client.on('session', (accept) => {
        accept().on('sftp', (acceptSftp) => {
          const drop = () => (client as unknown as { _sock: Socket })._sock.destroy();
          serveSftp(acceptSftp(), root, faults, record, drop);
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const hostKeySha256 = `SHA256:${createHash('sha256').update(parsed(hostKey.public).getPublicSSH()).digest('base64').replace(/=+$/, '')}`;

  return {
    host: '127.0.0.1',
    port,
    root,
    username,
    password,
    hostKeySha256,
    hostPublicKey: hostKey.public,
    clientKey: { privateKey: clientKey.private, passphrase },
    faults,
    record,
    connections: () => connections,
    logins: () => logins,
    config: (overrides = {}) => ({
      host: '127.0.0.1',
      port,
      username,
      password,
      hostKeySha256,
      pathTemplate: 'drops/{destinationId}/events-{uploadId}.csv',
      connectTimeoutMs: 5_000,
      ...overrides,
    }),
    async close() {
      for (const client of open) client.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(root, { recursive: true, force: true });
    },
  };
}

/**
 * ssh2's generator writes an ed25519 public key whose first byte is zero as 31 bytes, which its own
 * parser then rejects (about one key in 256): draw again until the pair reads back.
 */
function usableEd25519Pair(options: { passphrase: string; cipher: string; rounds: number } | Record<string, never> = {}) {
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519', options as Parameters<typeof utils.generateKeyPairSync>[1]);
    if (!(utils.parseKey(pair.public) instanceof Error)) return pair;
  }
}

function parsed(key: string): ParsedKey {
  const result = utils.parseKey(key);
  if (result instanceof Error) throw result;
  return result;
}

function sameText(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
