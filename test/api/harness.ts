/**
 * A running API over real HTTP against a real database: a test database, a router serving the
 * "routed" destinations with scripted managers, and `startApi` (the same entry point the daemon's
 * companion uses) listening on a free loopback port. Destinations marked `routed: false` accept
 * events but no worker takes them, so their jobs stay `waiting` for as long as a test needs.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startApi, type RunningApi } from '../../src/api/index.ts';
import { createKey, type Scope } from '../../src/api/keys-store.ts';
import type { Destination } from '../../src/destinations.ts';
import type { Manager } from '../../src/manager/contract.ts';
import type { Router } from '../../src/router/router.ts';
import { TUNING_DEFAULTS, type Tuning } from '../../src/tuning.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { emptyTables } from '../helpers/file-database.ts';
import { silentLog, startRouter } from '../helpers/router.ts';
import { testDestination } from '../helpers/scripted-manager.ts';

/** A 32-byte test secret, and the same bytes for the test's own verifier. */
export const SECRET_BYTES = Buffer.alloc(32, 7);
export const CALLBACK_SECRET = `whsec_${SECRET_BYTES.toString('base64')}`;

export interface DestinationSpec {
  id: string;
  manager: Manager;
  routed?: boolean;
  enabled?: boolean;
  /** An error makes the destination invalid, as a broken entry of the destinations file would be. */
  error?: string;
  tuning?: Partial<Tuning>;
  /** The destination's raw config, parsed by its manager's schema (default: {}). */
  config?: unknown;
}

export interface HarnessOptions {
  destinations: DestinationSpec[];
  env?: Record<string, string>;
  /** Keys to create before the API starts; their secrets come back under the same names. */
  keys?: Record<string, { scopes: Scope[]; destinations?: string[] }>;
  /** The API's rate-limit clock, so a test decides how much time passes between requests. */
  now?: () => number;
  /**
   * The file's database (databaseForFile({ emptyBeforeEach: false })), emptied here before the
   * harness starts and left open when it closes, so a file with several harnesses clones one
   * database rather than one per harness. Without it the harness makes and drops its own.
   */
  database?: TestDatabase;
}

export interface Response<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface ApiHarness {
  db: TestDatabase;
  api: RunningApi;
  router: Router;
  url: string;
  keysFile: string;
  keys: Record<string, string>;
  /** JSON in, JSON out; `raw` sends a string body as is (malformed JSON, odd content types). */
  call<T = any>(method: string, path: string, options?: { body?: unknown; raw?: string; key?: string; headers?: Record<string, string> }): Promise<Response<T>>;
  close(): Promise<void>;
}

function destination(spec: DestinationSpec): Destination {
  const tuning = { ...TUNING_DEFAULTS, uploadIntervalMs: 0, pollIntervalMs: 20, minBackoffMs: 10, maxBackoffMs: 50, ...spec.tuning };
  return Object.freeze({
    id: spec.id, managerName: spec.manager.name, manager: spec.manager, enabled: spec.enabled ?? true, config: (spec.config ?? {}) as Destination['config'],
    tuning, valid: spec.error === undefined, ...(spec.error ? { error: spec.error } : {}), notes: [], secrets: [],
  });
}

export async function startHarness(options: HarnessOptions): Promise<ApiHarness> {
  const db = options.database ?? (await createTestDatabase());
  if (options.database) await emptyTables(db.db);
  const closeDatabase = () => (options.database ? Promise.resolve() : db.close());
  const dir = mkdtempSync(join(tmpdir(), 'br-api-'));
  const keysFile = join(dir, 'api-keys.json');
  const keys: Record<string, string> = {};
  for (const [name, spec] of Object.entries(options.keys ?? {})) keys[name] = createKey(keysFile, { name, ...spec }).key;
  const config = loadConfig({
    DATABASE_URL: db.url,
    PORT: '0',
    BATCH_ROUTER_API_HOST: '127.0.0.1',
    BATCH_ROUTER_API_KEYS_FILE: keysFile,
    BATCH_ROUTER_DATA_DIR: join(dir, 'data'),
    BATCH_ROUTER_CALLBACK_SECRET: CALLBACK_SECRET,
    BATCH_ROUTER_CALLBACK_ALLOW_LIST: '127.0.0.1',
    BATCH_ROUTER_CALLBACK_RETRY_SCHEDULE: '0,50ms,100ms',
    BATCH_ROUTER_CALLBACK_POLL_MS: '20',
    BATCH_ROUTER_CALLBACK_TIMEOUT_MS: '2000',
    BATCH_ROUTER_SSE_POLL_MS: '25',
    BATCH_ROUTER_API_RATE_LIMIT: '0',
    ...options.env,
  });
  const destinations = options.destinations.map(destination);
  const routed = options.destinations
    .filter((d) => d.routed !== false && d.enabled !== false && d.error === undefined)
    .map((d) => testDestination(d.manager, d.id, destinations.find((x) => x.id === d.id)!.tuning, d.config ?? {}));
  const router = startRouter(db.db, routed);
  let api: RunningApi;
  try {
    api = await startApi({ db: db.db, log: silentLog, config, destinations, router, now: options.now });
  } catch (error) {
    await router.stop();
    await closeDatabase();
    throw error;
  }
  return {
    db, api, router, url: api.url, keysFile, keys,
    async call(method, path, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.key) headers.authorization = `Bearer ${opts.key}`;
      let body: string | undefined = opts.raw;
      if (opts.body !== undefined) body = JSON.stringify(opts.body);
      if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
      const res = await fetch(`${api.url}${path}`, { method, headers, body, redirect: 'manual' });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON (metrics, SSE): keep the text
      }
      return { status: res.status, headers: res.headers, body: parsed as any, text };
    },
    async close() {
      await api.stop();
      await router.stop();
      await closeDatabase();
    },
  };
}

/** Submits `n` events (`{ n: i }`) and returns the 202/200 body. */
export async function submit(h: ApiHarness, destinationId: string, n: number, extra: { key?: string; callback?: string; headers?: Record<string, string> } = {}) {
  const events = Array.from({ length: n }, (_, i) => ({ id: `e-${i}`, n: i }));
  return h.call('POST', `/v1/destinations/${destinationId}/events`, {
    body: { events, ...(extra.callback ? { callback: { url: extra.callback } } : {}) },
    ...(extra.key ? { key: extra.key } : {}),
    ...(extra.headers ? { headers: extra.headers } : {}),
  });
}
