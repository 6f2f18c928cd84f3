/**
 * One SSH connection with its SFTP channel, opened through ssh2-sftp-client: password or private
 * key login, the pinned host key checked during the handshake (before any credential is sent),
 * a connect timeout, SSH keep-alives, and a `lost` flag so a dropped connection is never reused.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { ConnectConfig, SFTPWrapper, Client as SshClient } from 'ssh2';
import SftpClient from 'ssh2-sftp-client';
import { normaliseFingerprint, type SftpConfig } from '../config.ts';
import { connectFailure, type PresentedHostKey } from './errors.ts';

/**
 * Keep-alives every 15 s, given up after 4 unanswered: a connection silently dropped by a NAT or
 * firewall between uploads is noticed within a minute instead of at the next write.
 */
const KEEPALIVE_INTERVAL_MS = 15_000;
const KEEPALIVE_COUNT_MAX = 4;
/** How long a closing connection waits for the server's goodbye before dropping the socket. */
const END_GRACE_MS = 1_000;

let nextConnectionId = 1;

/** `SHA256:<base64, no padding>` of a public key blob: the form `ssh-keygen -lf` prints. */
export function fingerprintOf(publicKeyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named at the start of an SSH public key blob ("ssh-ed25519"), for error messages. */
function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const length = blob.readUInt32BE(0);
  return length > 0 && length < 64 && blob.length >= 4 + length ? blob.toString('ascii', 4, 4 + length) : 'unknown';
}

export class SftpConnection {
  readonly id = nextConnectionId++;
  /** Set once the connection ended, closed or failed: it is then discarded, never reused. */
  lost = false;
  /** Set once the socket is closed: nothing is left to end. */
  private closed = false;

  /** The SFTP channel itself, for streaming writes (see Remote.write); set once connected. */
  channel!: SFTPWrapper;

  private constructor(readonly client: SftpClient) {}

  /**
   * Connects and logs in. Fails with a typed error: ConfigError for a host key mismatch, refused
   * login or unusable key; RetryableError for network trouble, timeouts and cancellation.
   */
  static async open(config: SftpConfig, log: Logger, signal: AbortSignal): Promise<SftpConnection> {
    // The library's default listeners print to the console; ours only record, at debug level.
    const client = new SftpClient('batch-router', {
      error: (error) => log.debug({ error: (error as Error).message }, 'SFTP connection error'),
      end: () => log.debug('SFTP connection ended'),
      close: () => log.debug('SFTP connection closed'),
    });
    const connection = new SftpConnection(client);
    const ssh = rawClient(client);
    let lastError: (Error & { level?: string }) | undefined;
    // On the ssh2 client itself: the library's per-call listeners would otherwise swallow these.
    ssh.on('error', (error: Error & { level?: string }) => {
      lastError = error;
      connection.lost = true;
    });
    ssh.on('close', () => {
      connection.lost = true;
      connection.closed = true;
    });
    ssh.on('end', () => (connection.lost = true));

    let presented: PresentedHostKey | undefined;
    const expected = config.hostKeySha256 === undefined ? undefined : normaliseFingerprint(config.hostKeySha256);
    const options: ConnectConfig = {
      host: config.host,
      port: config.port,
      username: config.username,
      ...(config.password !== undefined ? { password: config.password } : {}),
      ...(config.privateKey !== undefined ? { privateKey: config.privateKey } : {}),
      ...(config.passphrase !== undefined ? { passphrase: config.passphrase } : {}),
      readyTimeout: config.connectTimeoutMs,
      keepaliveInterval: KEEPALIVE_INTERVAL_MS,
      keepaliveCountMax: KEEPALIVE_COUNT_MAX,
      hostVerifier: (key: Buffer) => {
        presented = { fingerprint: fingerprintOf(key), type: keyTypeOf(key) };
        return expected === undefined || presented.fingerprint === expected;
      },
    };
    const target = `${config.host}:${config.port}`;
    if (signal.aborted) throw connectFailure(signal.reason, { target, config, presented, signal, level: undefined });
    // Cancelling a handshake: the library's end() does nothing until the SFTP channel exists.
    const onAbort = () => ssh.destroy();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      connection.channel = await client.connect(options);
    } catch (thrown) {
      ssh.destroy();
      throw connectFailure(thrown, { target, config, presented, signal, level: lastError?.level });
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    log.debug({ connection: connection.id, hostKey: presented?.fingerprint }, 'SFTP connected');
    return connection;
  }

  /**
   * Closes the connection politely (SSH disconnect), or destroys it if the server does not hang
   * up within a second. Never throws. Not the library's end(): after a dropped connection it waits
   * for a close event that already happened, forever.
   */
  async end(): Promise<void> {
    this.lost = true;
    if (this.closed) return;
    const ssh = rawClient(this.client);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => ssh.destroy(), END_GRACE_MS);
      ssh.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      ssh.end();
    });
  }
}

/**
 * The ssh2 client inside ssh2-sftp-client (its documented `client` property, missing from the
 * typings): needed to observe connection events and to abort a handshake in progress.
 */
function rawClient(client: SftpClient): SshClient {
  return (client as unknown as { client: SshClient }).client;
}
