/**
 * A vendor whose answer ends early: the server promises a Content-Length, writes part of it and
 * destroys the socket (what a reset mid-body looks like). Every reader must turn that into a
 * RetryableError, never a bare TypeError (a "bug" to the router) nor a parse of half an answer.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UploadResult } from '../../src/manager/contract.ts';
import { RetryableError } from '../../src/manager/errors.ts';
import { readAnswer } from './answer.ts';
import { readCapped } from './http.ts';
import { readJson } from './request.ts';
import manager from '../async-http/index.ts';
import { buildBatch, callContext, openSession, tempDir } from '../../test/conformance/harness.ts';

const PARTIAL = '{"status":"accepted","operation_ids":["op-1",';

describe('a response body that ends early', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      res.writeHead(req.url === '/error' ? 503 : 202, { 'content-type': 'application/json', 'content-length': '4096' });
      res.write(PARTIAL, () => setImmediate(() => res.socket?.destroy()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('is a RetryableError from readCapped, readJson and readAnswer, whatever the status', async () => {
    for (const path of ['/ok', '/error']) {
      for (const read of [(r: Response) => readCapped(r, 1 << 20), (r: Response) => readJson(r), (r: Response) => readAnswer(r, (t) => t)]) {
        const error = await read(await fetch(`${url}${path}`)).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(RetryableError);
        expect((error as RetryableError).code).toBe('vendor_unavailable');
        expect((error as Error).message).toMatch(/ended after \d+ bytes, before its body was complete/);
      }
    }
  });

  it('leaves an async-http upload to be retried, not failed and not half-accepted', async () => {
    const staging = await tempDir();
    try {
      const config = manager.configSchema.parse({ baseUrl: url, pollIntervalMs: 50 });
      const { batch } = await buildBatch(manager, config, [{ id: 'a' }, { id: 'b' }], { stagingDir: staging.path, destinationId: 'ops' });
      const result: UploadResult | Error = await manager.upload(batch, callContext(config, { destinationId: 'ops', session: openSession(manager, config) }).ctx)
        .catch((e: unknown) => e as Error);
      if (result instanceof Error) expect(result).toBeInstanceOf(RetryableError);
      else {
        expect(result.imports ?? []).toEqual([]);
        expect(result.outcomes.map((o) => o.kind)).toEqual(['retry', 'retry']);
      }
    } finally {
      await staging.dispose();
    }
  });
});
