/**
 * Child process of bench/api-ingest.ts: serves one of the two systems the ingest row compares,
 * on a free loopback port, and prints "ready <url>" when it accepts requests.
 *
 *   node --import tsx bench/api-ingest-server.ts api <databaseUrl>   the real API (startApi), no router
 *   node --import tsx bench/api-ingest-server.ts api-embedded <dir>   the same on the embedded database in <dir>
 *   node --import tsx bench/api-ingest-server.ts bare                 a fastify route that does no work
 *
 * Both get the same body limit and JSON parsing, so the difference between the two rows is what
 * the API itself does per request: auth, validation, serialising events, one transaction.
 * SIGTERM stops it.
 */
import Fastify from 'fastify';
import pino from 'pino';
import { startApi } from '../src/api/index.ts';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/connect.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import type { Destination } from '../src/destinations.ts';
import { TUNING_DEFAULTS } from '../src/tuning.ts';

const [mode, databaseUrl] = process.argv.slice(2);
const BODY_LIMIT = 10 * 1024 * 1024;

async function serveBare(): Promise<{ url: string; stop(): Promise<void> }> {
  const app = Fastify({ bodyLimit: BODY_LIMIT });
  app.post('/v1/destinations/:destinationId/events', async (_request, reply) => reply.code(202).send({ accepted: true }));
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url, stop: () => app.close() };
}

/** `url` is a PostgreSQL URL, or with `embedded` the data directory of the embedded database. */
async function serveApi(url: string, embedded = false): Promise<{ url: string; stop(): Promise<void> }> {
  // No keys file: the API is open on loopback, as in the default set-up (a key check adds one SHA-256 per request).
  const config = loadConfig({ ...(embedded ? { BATCH_ROUTER_DATA_DIR: url } : { DATABASE_URL: url }), PORT: '0', BATCH_ROUTER_API_KEYS_FILE: '/nonexistent/bench-keys.json', BATCH_ROUTER_API_RATE_LIMIT: '0', LOG_LEVEL: 'warn' });
  const log = pino({ level: 'warn' });
  // Embedded: this process opens the directory and serves it, as the daemon does.
  const database = await openDatabase({ databaseUrl: embedded ? undefined : url, dataDir: config.dataDir, role: embedded ? 'daemon' : 'client', poolSize: 10, log });
  await migrateToLatest(database.db);
  const destination: Destination = Object.freeze({
    id: 'bench', managerName: 'none', manager: undefined, enabled: true, config: {}, tuning: TUNING_DEFAULTS, valid: true, notes: [], secrets: [],
  });
  const api = await startApi({ db: database.db, log, config, destinations: [destination] });
  return { url: api.url, stop: async () => { await api.stop(); await database.close(); } };
}

if (mode !== 'api' && mode !== 'api-embedded' && mode !== 'bare') throw new Error('usage: api-ingest-server.ts api <databaseUrl> | api-embedded <dataDir> | bare');
const server = mode === 'bare' ? await serveBare() : await serveApi(databaseUrl!, mode === 'api-embedded');
process.stdout.write(`ready ${server.url}\n`);
process.once('SIGTERM', () => void server.stop().then(() => process.exit(0), () => process.exit(1)));
