/**
 * Shared by the sftp tests: a fake server per test file, and one call that transforms, stages and
 * uploads events to it the way the router does, returning the result or the typed error thrown.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pino, type Logger } from 'pino';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { JsonObject, UploadResult } from '../../../src/manager/contract.ts';
import { buildBatch, callContext, silentLog, tempDir } from '../../../test/conformance/harness.ts';
import { startFakeSftpServer, type FakeSftpServer } from '../../../test/fakes/sftp-server.ts';
import type { SftpSession } from '../client/session.ts';
import sftp from '../index.ts';

export const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);
export const fixtureEvents = async () => JSON.parse(await readFile(fixture('events.json'), 'utf8')) as JsonObject[];

export const sampleEvents = (n: number, prefix = 'evt'): JsonObject[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, n: i, user: { email: `u${i}@example.com`, tags: ['a', 'b'] } }));

export interface SendOptions {
  uploadId?: string;
  uploadAttempt?: number;
  createdAt?: number;
  destinationId?: string;
  /** A session to use across calls; without one each call gets a fresh one, closed afterwards. */
  session?: SftpSession;
  log?: Logger;
  signal?: AbortSignal;
}

/** Transforms, stages and uploads `events`; resolves with the result or the error thrown. */
export async function send(
  stagingDir: string,
  rawConfig: Record<string, unknown>,
  events: readonly JsonObject[],
  options: SendOptions = {},
): Promise<{ result?: UploadResult; error?: Error; jobIds: string[] }> {
  const config = sftp.configSchema.parse(rawConfig);
  const destinationId = options.destinationId ?? 'drop-1';
  const built = await buildBatch(sftp, config, events, {
    stagingDir,
    destinationId,
    uploadId: options.uploadId ?? '42',
    uploadAttempt: options.uploadAttempt ?? 1,
    createdAt: options.createdAt ?? Date.UTC(2024, 4, 6, 7, 8, 9, 123),
  });
  const log = options.log ?? silentLog;
  const session = options.session ?? (sftp.createSession!(config, destinationId, log) as SftpSession);
  const { ctx } = callContext(config, { destinationId, session, signal: options.signal });
  try {
    const result = await sftp.upload(built.batch, { ...ctx, log });
    return { result, jobIds: built.batch.jobIds as string[] };
  } catch (error) {
    return { error: error as Error, jobIds: built.batch.jobIds as string[] };
  } finally {
    if (!options.session) await session.close();
  }
}

/** Every file under the server's root, as sorted paths relative to it ("drops/a.csv"). */
export async function serverFiles(server: FakeSftpServer): Promise<string[]> {
  const entries = await readdir(server.root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(server.root, join(entry.parentPath, entry.name)))
    .sort();
}

export const readServerFile = (server: FakeSftpServer, path: string) => readFile(join(server.root, path));

/** A logger whose lines are kept, to check what was (and was not) logged. */
export function capturingLog(): { log: Logger; lines: () => string[] } {
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
  return { log, lines: () => lines };
}

/**
 * One fake server and one staging directory for the enclosing `describe`, started before its
 * first test and closed after its last; faults a test armed are cleared after that test.
 */
export function useFakeServer(options: { hostKeyType?: 'ed25519' | 'rsa' } = {}) {
  let server: FakeSftpServer | undefined;
  let staging: Awaited<ReturnType<typeof tempDir>> | undefined;
  beforeAll(async () => {
    [server, staging] = await Promise.all([startFakeSftpServer(options), tempDir('br-sftp-staging-')]);
  });
  afterEach(() => {
    for (const key of Object.keys(server!.faults)) delete server!.faults[key as keyof FakeSftpServer['faults']];
  });
  afterAll(async () => {
    await Promise.all([server?.close(), staging?.dispose()]);
  });
  return {
    get server(): FakeSftpServer {
      return server!;
    },
    get staging(): string {
      return staging!.path;
    },
    /** Files under one top-level directory of the server. */
    under: async (dir: string) => (await serverFiles(server!)).filter((file) => file.startsWith(`${dir}/`)),
  };
}

/**
 * Plays a downstream picker while `during` runs: lists `dir` on the server's disk again and again
 * (and once more after `during` settles) and hands every visible file (no leading dot) to `check`
 * with its content. Returns what `during` returned, every name seen and how many files were read.
 */
export async function watchWhile<T>(
  dir: string,
  during: () => Promise<T>,
  check: (name: string, text: string) => void,
): Promise<{ value: T; seen: Set<string>; reads: number }> {
  const seen = new Set<string>();
  let reads = 0;
  const scan = async () => {
    const names = await readdir(dir);
    names.forEach((name) => seen.add(name));
    for (const name of names.filter((n) => !n.startsWith('.'))) {
      check(name, await readFile(join(dir, name), 'utf8'));
      reads += 1;
    }
  };
  let settled = false;
  const running = during().finally(() => (settled = true));
  void running.catch(() => undefined); // a failure is rethrown below, after the last scan
  while (!settled) {
    await scan();
    await new Promise((resolve) => setImmediate(resolve));
  }
  await scan(); // the state after the last rename
  return { value: await running, seen, reads };
}
