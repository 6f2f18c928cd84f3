import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, RetryableError } from '../../src/manager/errors.ts';
import { startFakeSftpServer } from '../../test/fakes/sftp-server.ts';
import { fingerprintOf } from './client/connection.ts';
import type { SftpSession } from './client/session.ts';
import sftp from './index.ts';
import { capturingLog, sampleEvents, send, useFakeServer } from './test/harness.ts';

const hasSshKeygen = (() => {
  try {
    execFileSync('ssh-keygen', ['-?'], { stdio: 'ignore' });
    return true;
  } catch (error) {
    return (error as { status?: number }).status !== undefined; // ran, merely complained about "-?"
  }
})();

describe('sftp connections', () => {
  const env = useFakeServer();

  it('logs in with a password against the pinned host key', async () => {
    const logins = env.server.logins();
    const { result } = await send(env.staging, env.server.config({ pathTemplate: 'pw/{uploadId}.csv' }), sampleEvents(3));
    expect(result?.outcomes.map((o) => o.kind)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(env.server.logins()).toBe(logins + 1);
  });

  it('logs in with an encrypted private key and its passphrase', async () => {
    const config = env.server.config({ password: undefined, ...env.server.clientKey, pathTemplate: 'key/{uploadId}.csv' });
    const { result } = await send(env.staging, config, sampleEvents(2));
    expect(result?.outcomes).toHaveLength(2);
    expect(await env.under('key')).toEqual(['key/42.csv']);
  });

  it('refuses a wrong passphrase or password as a config error, quoting neither', async () => {
    const badPassphrase = await send(env.staging, env.server.config({ password: undefined, privateKey: env.server.clientKey.privateKey, passphrase: 'wrong-passphrase' }), sampleEvents(1));
    expect(badPassphrase.error).toBeInstanceOf(ConfigError);
    expect((badPassphrase.error as ConfigError).field).toBe('passphrase');
    expect(badPassphrase.error?.message).not.toContain('wrong-passphrase');
    const badPassword = await send(env.staging, env.server.config({ password: 'wrong-password' }), sampleEvents(1));
    expect(badPassword.error).toBeInstanceOf(ConfigError);
    expect((badPassword.error as ConfigError).field).toBe('password');
    expect(badPassword.error?.message).toContain('All configured authentication methods failed');
    expect(badPassword.error?.message).toContain('"partner"');
    expect(badPassword.error?.message).not.toContain('wrong-password');
  });

  it('aborts on a host key mismatch naming both fingerprints, before sending any credential', async () => {
    const pinned = `SHA256:${'Q'.repeat(43)}`;
    const logins = env.server.logins();
    const { error } = await send(env.staging, env.server.config({ hostKeySha256: pinned }), sampleEvents(1));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('hostKeySha256');
    expect(error?.message).toContain(`expected ${pinned}`);
    expect(error?.message).toContain(`received ${env.server.hostKeySha256} (ssh-ed25519)`);
    expect(env.server.logins()).toBe(logins);
  });

  it.runIf(hasSshKeygen)('computes fingerprints exactly as `ssh-keygen -lf` prints them', async () => {
    const rsa = await startFakeSftpServer({ hostKeyType: 'rsa' });
    try {
      for (const publicKey of [env.server.hostPublicKey, rsa.hostPublicKey]) {
        const file = join(env.staging, `host-${Math.random().toString(16).slice(2)}.pub`);
        writeFileSync(file, publicKey);
        const printed = execFileSync('ssh-keygen', ['-lf', file], { encoding: 'utf8' }).split(' ')[1];
        expect(fingerprintOf(Buffer.from(publicKey.split(' ')[1]!, 'base64'))).toBe(printed);
      }
      // And the RSA server's pinned fingerprint is accepted during a real handshake.
      const { result } = await send(env.staging, rsa.config(), sampleEvents(1));
      expect(result?.outcomes).toHaveLength(1);
    } finally {
      await rsa.close();
    }
  });

  it('warns once per session when host key checking is off, and never logs a secret', async () => {
    const { log, lines } = capturingLog();
    const config = env.server.config({ hostKeySha256: undefined, insecureSkipHostKeyCheck: true, password: undefined, ...env.server.clientKey });
    const { result } = await send(env.staging, config, sampleEvents(2), { log });
    expect(result?.outcomes).toHaveLength(2);
    const warnings = lines().filter((line) => line.includes('insecureSkipHostKeyCheck'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 40 });
    await send(env.staging, env.server.config({ password: 'wrong-password' }), sampleEvents(1), { log });
    for (const secret of ['wrong-password', env.server.password, env.server.clientKey.passphrase, 'PRIVATE KEY']) {
      expect(lines().join('\n')).not.toContain(secret);
    }
  });

  it('shares one connection across the parts of an upload and reuses it for the next upload', async () => {
    const config = sftp.configSchema.parse(env.server.config({ pathTemplate: 'reuse/{uploadId}-{part}.csv', maxRowsPerFile: 2 }));
    const session = sftp.createSession!(config, 'drop-1', capturingLog().log) as SftpSession;
    const before = env.server.connections();
    try {
      await send(env.staging, config as unknown as Record<string, unknown>, sampleEvents(9), { session, uploadId: '1' });
      await send(env.staging, config as unknown as Record<string, unknown>, sampleEvents(3), { session, uploadId: '2' });
      expect(await env.under('reuse')).toHaveLength(7);
      expect(env.server.connections()).toBe(before + 1);
      expect(session.size).toBe(1);
    } finally {
      await session.close();
    }
    expect(session.size).toBe(0);
  });

  describe('network failures are retryable', () => {
    let silent: Server;
    beforeAll(async () => {
      // Accepts TCP but never speaks SSH: only the connect timeout ends the wait. It reads (and
      // ignores) the client's greeting, so it notices when the client hangs up.
      silent = createServer((socket) => socket.resume());
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    });
    afterAll(async () => {
      await new Promise((resolve) => silent.close(resolve));
    });

    it('retries a refused connection', async () => {
      const closed = await startFakeSftpServer();
      const config = closed.config();
      await closed.close();
      const { error } = await send(env.staging, config, sampleEvents(1));
      expect(error).toBeInstanceOf(RetryableError);
      expect(error?.message).toMatch(/cannot connect to 127\.0\.0\.1:\d+: .*(refused|ECONNREFUSED)/i);
    });

    it('retries after connectTimeoutMs when the server never answers', async () => {
      const port = (silent.address() as { port: number }).port;
      const started = Date.now();
      const { error } = await send(env.staging, env.server.config({ port, connectTimeoutMs: 300 }), sampleEvents(1));
      expect(error).toBeInstanceOf(RetryableError);
      expect(error?.message).toContain('Timed out while waiting for handshake');
      expect(Date.now() - started).toBeLessThan(5_000);
    });
  });
});
