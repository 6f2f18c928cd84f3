/**
 * The one schema of the process settings: each key's environment variable, format, default and
 * the text a user reads in the README (`npm run docs:config` writes the table from here, and
 * test/config-reference.test.ts fails when the README differs). Docs say what the setting does,
 * its unit, and when to change it; the default is shown beside them by the generator.
 */
import type { FormatName, SettingSpec } from './config-convict.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const DAY_MS = 24 * 60 * 60 * 1000;
const MAX = Number.MAX_SAFE_INTEGER;
const int = (env: string, def: number, min: number, doc: string, max?: number): SettingSpec =>
  ({ doc, env, default: def, format: 'whole-number', min, ...(max === undefined || max === MAX ? {} : { max }) });
const str = (env: string, def: string, format: FormatName, doc: string, extra: Partial<SettingSpec> = {}): SettingSpec =>
  ({ doc, env, default: def, format, ...extra });
const bool = (env: string, def: boolean, doc: string): SettingSpec => ({ doc, env, default: def, format: 'true-false' });

export const SCHEMA = {
  databaseUrl: str('DATABASE_URL', '', 'postgres-url', 'PostgreSQL server to use. Empty starts an embedded PGlite database in '
    + 'BATCH_ROUTER_DATA_DIR, fine for one process; set it for production or to run several processes on one database. '
    + 'The password is never printed', { sensitive: true }),
  dataDir: str('BATCH_ROUTER_DATA_DIR', './data', 'path', 'Directory of the embedded database and, unless BATCH_ROUTER_STAGING_DIR is '
    + 'set, of staging files. Put it on a persistent volume in a container'),
  embeddedPort: int('BATCH_ROUTER_EMBEDDED_PORT', 0, 0, 'Loopback TCP port the embedded database serves other clients '
    + '(psql, a second CLI) on; 0 lets the OS pick a free port, written to <dataDir>/embedded.json. Set it to reach the database at a fixed port', 65535),
  preparedStatements: bool('BATCH_ROUTER_PREPARED_STATEMENTS', true, 'Send the router\'s hot statements (claim, its gate, '
    + 'recording an upload) as named prepared statements on a PostgreSQL server, so they are not planned on every upload. '
    + 'Set false behind a connection pooler in transaction mode without prepared-statement support. Not used by the embedded database'),
  autoMigrate: bool('BATCH_ROUTER_AUTO_MIGRATE', true, 'Apply pending database migrations on start. Set false where schema changes '
    + 'are rolled out by `batch-router migrate` in a separate step; the daemon then refuses to run on an old schema'),
  destinationsFile: str('BATCH_ROUTER_DESTINATIONS_FILE', 'config/destinations.json', 'path', 'JSON file listing the destinations '
    + '(see "Destinations file" below)'),
  stagingDir: str('BATCH_ROUTER_STAGING_DIR', '', 'path', 'Directory of upload staging files; empty means <dataDir>/staging. '
    + 'Move it to a faster or larger disk when uploads are big'),
  stagingMemoryBytes: int('BATCH_ROUTER_STAGING_MEMORY_BYTES', 8 * 1024 * 1024, 0, 'Bytes: an upload whose staged rows total at most '
    + 'this is staged in memory; a bigger one is written to a staging file and streamed back. 0 always uses files; raise it '
    + 'when memory is plentiful and the disk slow'),
  logLevel: str('LOG_LEVEL', 'info', 'one-of', 'Least severe log level written. `debug` shows each claim, upload and poll',
    { values: LOG_LEVELS }),
  logFormat: str('BATCH_ROUTER_LOG_FORMAT', 'auto', 'one-of', 'Log format: `json` (one object per line, for collectors), `pretty` '
    + '(for people), or `auto` (pretty when stdout is a terminal)', { values: LOG_FORMATS }),
  workerId: str('BATCH_ROUTER_WORKER_ID', '', 'text', 'Identity of this process on leases and in logs; empty generates '
    + '<hostname>-<pid>-<random>. Set a stable name to tell processes apart in `uploads` and the dashboard'),
  leaseMs: int('BATCH_ROUTER_LEASE_MS', 30_000, 1000, 'Milliseconds a claimed job or upload stays owned without a heartbeat; after '
    + 'that another process may take it over. Raise it if long pauses (GC, a stalled disk) let leases expire'),
  heartbeatMs: int('BATCH_ROUTER_HEARTBEAT_MS', 0, 0, 'Milliseconds between lease renewals; 0 means BATCH_ROUTER_LEASE_MS/3. '
    + 'Must be below the lease'),
  shutdownGraceMs: int('BATCH_ROUTER_SHUTDOWN_GRACE_MS', 25_000, 0, 'Milliseconds in-flight uploads may finish after SIGTERM before '
    + 'they are aborted (and retried later). Keep it below the container\'s stop timeout'),
  idlePollMs: int('BATCH_ROUTER_IDLE_POLL_MS', 200, 1, 'Milliseconds an idle worker waits before looking for ready jobs again, '
    + 'when it is not woken by arrival notifications. Lower means less latency, more queries'),
  arrivalListen: bool('BATCH_ROUTER_ARRIVAL_LISTEN', true, 'Wake idle workers by LISTEN/NOTIFY when jobs are inserted (one '
    + 'notification per insert statement, one listening connection per process), on a PostgreSQL server and on the embedded '
    + 'database, whose server delivers each notification to the clients that LISTEN. `false` polls every '
    + 'BATCH_ROUTER_IDLE_POLL_MS, e.g. behind a pooler without LISTEN'),
  arrivalSafetyPollMs: int('BATCH_ROUTER_ARRIVAL_SAFETY_POLL_MS', 30_000, 1, 'Milliseconds an idle worker sleeps while notifications '
    + 'wake it; catches jobs requeued by another process or inserted by plain SQL without a notification'),
  sweepIntervalMs: int('BATCH_ROUTER_SWEEP_INTERVAL_MS', 5000, 1, 'Milliseconds between sweeps that recover expired leases and delete '
    + 'old finished jobs'),
  retentionMaxAgeMs: int('BATCH_ROUTER_RETENTION_MAX_AGE_MS', 7 * DAY_MS, 0, 'Milliseconds finished jobs are kept: a partition of '
    + '1,000,000 job ids whose jobs all finished longer ago than this is dropped whole; 0 keeps them forever. Lower it if the job tables grow too large'),
  retentionBatchSize: int('BATCH_ROUTER_RETENTION_BATCH_SIZE', 5000, 1, 'Most finished uploads one sweep deletes per statement (jobs '
    + 'go by whole partitions), so a backlog never holds a long lock'),
  dbPoolSize: int('BATCH_ROUTER_DB_POOL_SIZE', 10, 1, 'Most PostgreSQL connections this process opens. Keep processes × this below '
    + 'the server\'s max_connections', 1000),
  port: int('PORT', 8080, 0, 'TCP port of the HTTP API; 0 picks a free port', 65535),
  apiHost: str('BATCH_ROUTER_API_HOST', '', 'text', 'Address the HTTP API binds to; empty means 0.0.0.0 once an API key exists. '
    + 'Without any key the API always binds 127.0.0.1'),
  nodeEnv: str('NODE_ENV', 'production', 'text', 'Environment name; `development` lets callbacks reach private addresses when no '
    + 'allow-list is set'),
  apiKeysFile: str('BATCH_ROUTER_API_KEYS_FILE', 'config/api-keys.json', 'path', 'API keys file (SHA-256 hashes only), managed with '
    + '`batch-router keys`; re-read within a second of a change. No keys means a loopback-only API'),
  apiBodyLimitBytes: int('BATCH_ROUTER_API_BODY_LIMIT_BYTES', 10 * 1024 * 1024, 1024, 'Bytes: largest API request body; larger ones '
    + 'get 413 before being parsed. Raise it for big batches per request'),
  apiHeadersTimeoutMs: int('BATCH_ROUTER_API_HEADERS_TIMEOUT_MS', 10_000, 100, 'Milliseconds a client has to send the request '
    + 'headers; a slower one gets 408 and is disconnected'),
  apiRequestTimeoutMs: int('BATCH_ROUTER_API_REQUEST_TIMEOUT_MS', 60_000, 100, 'Milliseconds a client has to send a whole request, '
    + 'body included (408 and disconnected); at least the headers timeout. Raise it for large bodies over slow links'),
  apiKeepAliveTimeoutMs: int('BATCH_ROUTER_API_KEEP_ALIVE_TIMEOUT_MS', 5000, 1, 'Milliseconds an idle keep-alive API connection '
    + 'stays open; keep it above a load balancer\'s idle timeout to avoid resets'),
  apiMaxEventDepth: int('BATCH_ROUTER_API_MAX_EVENT_DEPTH', 64, 1, 'Deepest nesting of objects and arrays accepted in one event '
    + '(the event itself is level 1); deeper ones get 400', 1000),
  apiMaxStreamsPerKey: int('BATCH_ROUTER_API_MAX_STREAMS_PER_KEY', 50, 1, 'Open SSE streams plus `Prefer: wait` requests one API key '
    + 'may hold in this process; more get 429'),
  apiMaxStreams: int('BATCH_ROUTER_API_MAX_STREAMS', 500, 1, 'Open SSE streams plus `Prefer: wait` requests this process serves at '
    + 'once, across all keys; more get 429'),
  apiRateLimit: int('BATCH_ROUTER_API_RATE_LIMIT', 50, 0, 'Average requests per second per API key (per process); 0 turns rate '
    + 'limiting off'),
  apiRateBurst: int('BATCH_ROUTER_API_RATE_BURST', 100, 1, 'Requests a key may make at once above the average rate'),
  callbackSecret: str('BATCH_ROUTER_CALLBACK_SECRET', '', 'webhook-secret', 'Secret that signs completion callbacks, '
    + '`whsec_<base64 of 24–64 bytes>` (`batch-router keys secret` makes one); empty refuses requests that ask for a callback. '
    + 'Never printed', { sensitive: true }),
  callbackRetrySchedule: str('BATCH_ROUTER_CALLBACK_RETRY_SCHEDULE', '0,5s,5m,30m,2h,5h,10h,14h,20h,24h', 'duration-list', 'Delay '
    + 'before each callback attempt, the first included; its length is the attempt limit. Each delay is jittered ±20% and a '
    + 'longer `Retry-After` wins'),
  callbackAllowList: str('BATCH_ROUTER_CALLBACK_ALLOW_LIST', '', 'allow-list', 'Hosts, `*.domain` suffixes, IPs and CIDRs callbacks '
    + 'may go to (then only those); empty allows public addresses only. Set it to reach receivers on a private network'),
  callbackTimeoutMs: int('BATCH_ROUTER_CALLBACK_TIMEOUT_MS', 15_000, 100, 'Milliseconds one callback attempt may take before it '
    + 'counts as failed and is retried'),
  callbackPollMs: int('BATCH_ROUTER_CALLBACK_POLL_MS', 1000, 1, 'Milliseconds the idle callback loop waits between looks for '
    + 'finished submissions and due attempts'),
  ssePollMs: int('BATCH_ROUTER_SSE_POLL_MS', 1000, 10, 'Milliseconds between reads of a followed submission or upload (one reader '
    + 'per resource, whatever the number of streams)'),
  sseHeartbeatMs: int('BATCH_ROUTER_SSE_HEARTBEAT_MS', 15_000, 100, 'Milliseconds between SSE heartbeat comments that keep proxies '
    + 'from closing a quiet stream'),
  idempotencyTtlMs: int('BATCH_ROUTER_IDEMPOTENCY_TTL_MS', DAY_MS, 1000, 'Milliseconds an `Idempotency-Key` is remembered; a request '
    + 'repeated after that is taken as a new one'),
} satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SCHEMA;
