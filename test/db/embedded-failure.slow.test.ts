/**
 * After an unexpected PGlite failure the daemon stops with one clear message and exit code 1,
 * instead of calling PGlite again (issue 14 §3). The wire server's side (refusing clients, telling
 * its owner once) is in pglite-wire-failures.test.ts; this is the owner's side, connect.ts's
 * default handler, in a real child process.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const dataDir = mkdtempSync(join(tmpdir(), 'br-embedded-failure-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

it('a PGlite failure stops the process with exit code 1 and a message naming it and the restart', async () => {
  const script = fileURLToPath(new URL('fixtures/failing-embedded.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // No deadline of our own: the child gives up after 30 s by itself, and the test timeout caps the rest.
  const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
  expect(output).toContain('ready');
  expect(code, output).toBe(1);
  expect(output).toContain('the embedded database failed (RuntimeError: unreachable (simulated WASM crash))');
  expect(output).toContain('batch-router stops now. Restart it');
  expect(output).not.toContain('PGlite called again');
  expect(output).not.toContain('still running');
});
