import { Client, type SFTPWrapper } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSftpServer, type FakeSftpServer } from './sftp-server.ts';

/** Logs in with the server's password and opens the SFTP channel. */
async function connect(server: FakeSftpServer): Promise<{ ssh: Client; sftp: SFTPWrapper; closed: Promise<void> }> {
  const ssh = new Client();
  const closed = new Promise<void>((resolve) => ssh.once('close', () => resolve()));
  ssh.on('error', () => undefined); // the drop under test surfaces as a reset
  await new Promise<void>((resolve, reject) => {
    ssh.once('ready', resolve).once('error', reject);
    ssh.connect({ host: server.host, port: server.port, username: server.username, password: server.password });
  });
  const sftp = await new Promise<SFTPWrapper>((resolve, reject) => ssh.sftp((error, channel) => (error ? reject(error) : resolve(channel))));
  return { ssh, sftp, closed };
}

describe('sftp server fake', () => {
  let server: FakeSftpServer;
  beforeAll(async () => {
    server = await startFakeSftpServer();
  });
  afterAll(() => server.close());

  // Regression: the writes that reached the server together with the one that tripped the drop
  // each spent another use of the fault, so on Node 22 (larger stream buffers, more requests per
  // network read) "drop twice" dropped one connection and let the reconnected one succeed.
  it('spends one use of a drop fault per connection, however many writes were already in flight', async () => {
    server.faults.drop = { afterBytes: 1_000, times: 2 };
    const { sftp, closed } = await connect(server);
    const handle = await new Promise<Buffer>((resolve, reject) =>
      sftp.open('burst.bin', 'w', (error, h) => (error ? reject(error) : resolve(h))),
    );
    const chunk = Buffer.alloc(512, 1);
    // Sixteen writes sent back to back without waiting: most arrive after the one at 1,024 bytes.
    const answers = Array.from({ length: 16 }, (_, i) =>
      new Promise<string>((resolve) => sftp.write(handle, chunk, 0, chunk.length, i * chunk.length, (error) => resolve(error ? 'failed' : 'ok'))),
    );
    await closed;
    const outcomes = await Promise.all(answers);
    expect(server.faults.drop.times).toBe(1);
    expect(outcomes.filter((o) => o === 'ok')).toEqual(['ok']); // only the write below the threshold was answered
    expect(server.record.bytesWritten.get('/burst.bin')).toBe(2 * chunk.length); // nothing landed after the drop
  });
});
