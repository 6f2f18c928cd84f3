/**
 * A result file that cannot be read to its end, found by the vendor-answer fuzz test: a reset
 * mid-file used to escape as an uncaught exception (`TypeError: terminated`, which would stop the
 * daemon) while the parser waited forever; broken quoting surfaced as csv-parse's untyped error.
 * Both must be a RetryableError with a stable code, and the reading must end.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetryableError } from '../../src/manager/errors.ts';
import { resultRows } from './result-file.ts';

const FILE = '"email","firstName","reason"\n"a@x.io","Ann","1004 Lead not found"\n"b@x.io","Bo","1004 Lead not found"\n';

/** Reads every row; a reading that does not end within 20 s fails as a hang. */
async function readAll(body: ReadableStream<Uint8Array>): Promise<number> {
  let rows = 0;
  const read = (async () => {
    for await (const row of resultRows(body, ['email', 'firstName'])) if (row.key) rows += 1;
    return rows;
  })();
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('hang: the result file was never read to an end')), 20_000);
  });
  return Promise.race([read, hang]).finally(() => clearTimeout(timer));
}

describe('result files that cannot be read to their end', () => {
  let server: Server;
  let url: string;
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    server = createServer((req, res) => {
      req.resume();
      const bytes = Buffer.from(FILE);
      res.writeHead(200, { 'content-type': 'text/csv', 'content-length': String(bytes.byteLength) });
      // Half the file, then the connection drops.
      res.write(bytes.subarray(0, 40), () => setImmediate(() => res.socket?.destroy()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('a reset mid-file is a RetryableError, with no uncaught exception', async () => {
    const response = await fetch(url);
    const error = await readAll(response.body!).then(() => expect.fail('expected a RetryableError'), (e: unknown) => e as RetryableError);
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.code).toBe('vendor_unavailable');
    expect(error.message).toMatch(/result file ended after \d+ records, before it was complete/);
    await new Promise((resolve) => setImmediate(resolve));
    expect(uncaught).toEqual([]);
  });

  it('broken quoting is a RetryableError with code bad_vendor_response', async () => {
    const body = new Blob(['"email","firstName"\n"a@x.io","Ann"\n"unterminated,"x""y\n']).stream();
    const error = await readAll(body).then(() => expect.fail('expected a RetryableError'), (e: unknown) => e as RetryableError);
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.code).toBe('bad_vendor_response');
    expect(error.message).toMatch(/not valid CSV after \d+ records: .*quote/i);
  });
});
