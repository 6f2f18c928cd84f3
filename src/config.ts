/**
 * Process configuration. This is the ONLY module that reads `process.env`: everything else gets a
 * frozen {@link AppConfig} or {@link envSnapshot}, so tests can pass their own environment and no
 * setting can change behind the daemon's back after start.
 *
 * convict maps env vars to keys, applies defaults and coerces strings; validation is ours (one
 * checker per format, bounds on the schema entry) so every message names the env var and the fix
 * instead of convict's internal key path.
 */
import convict from 'convict';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { decodeWebhookSecret, parseAllowList, parseDurationList } from './config-formats.ts';

/** The daemon's settings after defaults, validation and derivation. Deeply frozen. */
export interface AppConfig {
  /** PostgreSQL connection string; '' means "start an embedded PGlite in `dataDir`". */
  readonly databaseUrl: string;
  /** Absolute directory for the embedded database and, by default, staging files. */
  readonly dataDir: string;
  /** Loopback port the embedded database listens on; 0 lets the OS pick a free one. */
  readonly embeddedPort: number;
  /** Apply pending migrations on start instead of refusing to run against an old schema. */
  readonly autoMigrate: boolean;
  /** Absolute path of the destinations JSON file. */
  readonly destinationsFile: string;
  /** Absolute directory for upload staging files (`<dataDir>/staging` unless set). */
  readonly stagingDir: string;
  /** Uploads up to this many staged bytes stay in memory; bigger ones go to a staging file. */
  readonly stagingMemoryBytes: number;
  /** pino level: fatal, error, warn, info, debug, trace or silent. */
  readonly logLevel: LogLevel;
  /** Kept as given; `auto` is decided by the logger (pretty on a TTY, JSON otherwise). */
  readonly logFormat: LogFormat;
  /** This process's identity on leases; generated as `<host>-<pid>-<4 hex>` unless set. */
  readonly workerId: string;
  /** How long a claimed job or upload stays ours without a heartbeat. */
  readonly leaseMs: number;
  /** How often leases are renewed; always below `leaseMs` (leaseMs/3 unless set). */
  readonly heartbeatMs: number;
  /** How long in-flight calls may finish after SIGTERM before they are aborted. */
  readonly shutdownGraceMs: number;
  /** Sleep of an idle worker loop between looks for ready jobs. */
  readonly idlePollMs: number;
  /** Wake idle workers on LISTEN/NOTIFY when jobs are inserted, instead of polling every `idlePollMs`. */
  readonly arrivalListen: boolean;
  /** Idle sleep of a worker while arrivals wake it: a safety net for jobs inserted without a notification. */
  readonly arrivalSafetyPollMs: number;
  /** Cadence of the expired-lease recovery and retention sweeps. */
  readonly sweepIntervalMs: number;
  /** Finished jobs older than this are deleted; 0 keeps them forever. */
  readonly retentionMaxAgeMs: number;
  /** Most rows one retention sweep deletes, so a backlog never holds a long lock. */
  readonly retentionBatchSize: number;
  /** Most PostgreSQL connections this process opens. */
  readonly dbPoolSize: number;
  /** HTTP API port; 0 lets the OS pick one (handy in tests). */
  readonly port: number;
  /** HTTP API bind address; '' leaves the choice to the API module. */
  readonly apiHost: string;
  /** NODE_ENV as given ('production' unless set). */
  readonly nodeEnv: string;
  /** Absolute path of the API keys file (SHA-256 hashes only, written by `batch-router keys`). */
  readonly apiKeysFile: string;
  /** Largest request body the API reads (bytes); larger ones get 413 before being parsed. */
  readonly apiBodyLimitBytes: number;
  /** Time a client has to send a request's headers (ms); slower connections get 408 and are closed. */
  readonly apiHeadersTimeoutMs: number;
  /** Time a client has to send a whole request, body included (ms); a trickling upload gets 408 and is closed. */
  readonly apiRequestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open between requests (ms). */
  readonly apiKeepAliveTimeoutMs: number;
  /** Deepest nesting of objects and arrays accepted in one event (the event itself is level 1). */
  readonly apiMaxEventDepth: number;
  /** Open SSE streams plus `Prefer: wait` holds one API key may have at once in this process. */
  readonly apiMaxStreamsPerKey: number;
  /** Open SSE streams plus `Prefer: wait` holds this process serves at once, across all keys. */
  readonly apiMaxStreams: number;
  /** Requests per second each API key may make on average; 0 turns rate limiting off. */
  readonly apiRateLimit: number;
  /** Requests an API key may make in a burst above the average rate. */
  readonly apiRateBurst: number;
  /** `whsec_<base64>` secret that signs callbacks; '' refuses requests that ask for a callback. */
  readonly callbackSecret: string;
  /** Delays (ms) before each callback attempt, first attempt included; its length is the attempt limit. */
  readonly callbackRetrySchedule: readonly number[];
  /** Hosts, `*.domain` suffixes, IPs and CIDRs callbacks may go to; empty allows public addresses only. */
  readonly callbackAllowList: readonly string[];
  /** Deadline of one callback attempt (ms). */
  readonly callbackTimeoutMs: number;
  /** Idle wait of the callback loop between looks for finished submissions and due attempts (ms). */
  readonly callbackPollMs: number;
  /** How often an SSE stream re-reads the state it follows (ms). */
  readonly ssePollMs: number;
  /** Interval of SSE heartbeat comments that keep proxies from closing a quiet stream (ms). */
  readonly sseHeartbeatMs: number;
  /** How long an `Idempotency-Key` is remembered (ms). */
  readonly idempotencyTtlMs: number;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** A convict schema entry plus our bounds: `min`/`max` for integers, `values` for enums. */
interface Spec {
  doc: string;
  env: string;
  default: string | number | boolean;
  format: string;
  min?: number; max?: number; values?: readonly string[];
  /** Never echo the value in errors (it may hold a password). */
  sensitive?: boolean;
}
const DAY_MS = 24 * 60 * 60 * 1000;
const int = (env: string, def: number, min: number, doc: string, max = Number.MAX_SAFE_INTEGER): Spec =>
  ({ doc, env, default: def, format: 'br-int', min, max });
const str = (env: string, def: string, doc: string, extra: Partial<Spec> = {}): Spec =>
  ({ doc, env, default: def, format: 'br-string', ...extra });

const SCHEMA = {
  databaseUrl: str('DATABASE_URL', '', 'PostgreSQL connection string (postgres://user:pass@host:5432/db); empty starts an '
    + 'embedded PGlite in the data directory', { format: 'br-pg-url', sensitive: true }),
  dataDir: str('BATCH_ROUTER_DATA_DIR', './data', 'Directory for the embedded database and, by default, staging files'),
  embeddedPort: int('BATCH_ROUTER_EMBEDDED_PORT', 0, 0, 'Loopback port of the embedded database; 0 picks a free port', 65535),
  autoMigrate: { doc: 'Apply pending database migrations on start (true/false)', env: 'BATCH_ROUTER_AUTO_MIGRATE', default: true, format: 'br-bool' },
  destinationsFile: str('BATCH_ROUTER_DESTINATIONS_FILE', 'config/destinations.json', 'JSON file listing the destinations to deliver to'),
  stagingDir: str('BATCH_ROUTER_STAGING_DIR', '', 'Directory for upload staging files; empty means <dataDir>/staging'),
  stagingMemoryBytes: int('BATCH_ROUTER_STAGING_MEMORY_BYTES', 8 * 1024 * 1024, 0,
    'Uploads whose staged rows total at most this many bytes are staged in memory instead of a file; 0 always uses files'),
  logLevel: str('LOG_LEVEL', 'info', `Log level: ${LOG_LEVELS.join(', ')}`, { format: 'br-enum', values: LOG_LEVELS }),
  logFormat: str('BATCH_ROUTER_LOG_FORMAT', 'auto', 'Log format: json, pretty, or auto (pretty when stdout is a terminal)', { format: 'br-enum', values: LOG_FORMATS }),
  workerId: str('BATCH_ROUTER_WORKER_ID', '', 'Identity of this process on leases; empty generates <hostname>-<pid>-<random>'),
  leaseMs: int('BATCH_ROUTER_LEASE_MS', 30_000, 1000, 'Milliseconds a claimed job or upload stays owned without a heartbeat'),
  heartbeatMs: int('BATCH_ROUTER_HEARTBEAT_MS', 0, 0, 'Milliseconds between lease renewals; 0 means leaseMs/3; must be below leaseMs'),
  shutdownGraceMs: int('BATCH_ROUTER_SHUTDOWN_GRACE_MS', 25_000, 0, 'Milliseconds in-flight work may finish after SIGTERM before it is aborted'),
  idlePollMs: int('BATCH_ROUTER_IDLE_POLL_MS', 200, 1, 'Milliseconds an idle worker waits before looking for ready jobs again'),
  arrivalListen: { doc: 'Wake idle workers by LISTEN/NOTIFY when jobs are inserted (true/false); false polls every BATCH_ROUTER_IDLE_POLL_MS',
    env: 'BATCH_ROUTER_ARRIVAL_LISTEN', default: true, format: 'br-bool' },
  arrivalSafetyPollMs: int('BATCH_ROUTER_ARRIVAL_SAFETY_POLL_MS', 30_000, 1,
    'Milliseconds an idle worker sleeps while arrival notifications wake it; catches jobs inserted without a notification'),
  sweepIntervalMs: int('BATCH_ROUTER_SWEEP_INTERVAL_MS', 5000, 1, 'Milliseconds between lease-recovery and retention sweeps'),
  retentionMaxAgeMs: int('BATCH_ROUTER_RETENTION_MAX_AGE_MS', 7 * DAY_MS, 0, 'Finished jobs older than this many milliseconds are deleted; 0 keeps them'),
  retentionBatchSize: int('BATCH_ROUTER_RETENTION_BATCH_SIZE', 5000, 1, 'Most finished uploads deleted per retention statement (jobs go by whole partitions)'),
  dbPoolSize: int('BATCH_ROUTER_DB_POOL_SIZE', 10, 1, 'Most PostgreSQL connections this process opens', 1000),
  port: int('PORT', 8080, 0, 'HTTP API port; 0 picks a free port', 65535),
  apiHost: str('BATCH_ROUTER_API_HOST', '', 'HTTP API bind address; empty lets the API module choose'),
  nodeEnv: str('NODE_ENV', 'production', 'Node environment name (production, development, test)'),
  apiKeysFile: str('BATCH_ROUTER_API_KEYS_FILE', 'config/api-keys.json', 'API keys file (hashes only; manage with batch-router keys); no keys means loopback-only'),
  apiBodyLimitBytes: int('BATCH_ROUTER_API_BODY_LIMIT_BYTES', 10 * 1024 * 1024, 1024, 'Largest API request body in bytes; larger ones are refused with 413'),
  apiHeadersTimeoutMs: int('BATCH_ROUTER_API_HEADERS_TIMEOUT_MS', 10_000, 100,
    'Milliseconds a client has to send the request headers; a slower one gets 408 and its connection is closed'),
  apiRequestTimeoutMs: int('BATCH_ROUTER_API_REQUEST_TIMEOUT_MS', 60_000, 100,
    'Milliseconds a client has to send a whole request, body included; must be at least the headers timeout'),
  apiKeepAliveTimeoutMs: int('BATCH_ROUTER_API_KEEP_ALIVE_TIMEOUT_MS', 5000, 1, 'Milliseconds an idle keep-alive API connection stays open'),
  apiMaxEventDepth: int('BATCH_ROUTER_API_MAX_EVENT_DEPTH', 64, 1, 'Deepest nesting of objects and arrays accepted in one event; deeper ones get 400', 1000),
  apiMaxStreamsPerKey: int('BATCH_ROUTER_API_MAX_STREAMS_PER_KEY', 50, 1, 'Open SSE streams plus Prefer: wait holds per API key and process; more get 429'),
  apiMaxStreams: int('BATCH_ROUTER_API_MAX_STREAMS', 500, 1, 'Open SSE streams plus Prefer: wait holds per process across all keys; more get 429'),
  apiRateLimit: int('BATCH_ROUTER_API_RATE_LIMIT', 50, 0, 'Average API requests per second allowed per key; 0 disables rate limiting'),
  apiRateBurst: int('BATCH_ROUTER_API_RATE_BURST', 100, 1, 'API requests a key may make at once above the average rate'),
  callbackSecret: str('BATCH_ROUTER_CALLBACK_SECRET', '', 'Secret signing callbacks, whsec_<base64 of 24-64 bytes>; empty refuses callback requests',
    { format: 'br-whsec', sensitive: true }),
  callbackRetrySchedule: str('BATCH_ROUTER_CALLBACK_RETRY_SCHEDULE', '0,5s,5m,30m,2h,5h,10h,14h,20h,24h',
    'Delay before each callback attempt (comma-separated, units ms/s/m/h/d); jittered by +-20%', { format: 'br-durations' }),
  callbackAllowList: str('BATCH_ROUTER_CALLBACK_ALLOW_LIST', '', 'Callback hosts, *.domains, IPs or CIDRs allowed (comma-separated); '
    + 'empty allows public addresses only (any address when NODE_ENV=development)', { format: 'br-allow-list' }),
  callbackTimeoutMs: int('BATCH_ROUTER_CALLBACK_TIMEOUT_MS', 15_000, 100, 'Milliseconds one callback attempt may take'),
  callbackPollMs: int('BATCH_ROUTER_CALLBACK_POLL_MS', 1000, 1, 'Milliseconds the idle callback loop waits before looking for work again'),
  ssePollMs: int('BATCH_ROUTER_SSE_POLL_MS', 1000, 10, 'Milliseconds between reads of the state an SSE stream follows'),
  sseHeartbeatMs: int('BATCH_ROUTER_SSE_HEARTBEAT_MS', 15_000, 100, 'Milliseconds between SSE heartbeat comments'),
  idempotencyTtlMs: int('BATCH_ROUTER_IDEMPOTENCY_TTL_MS', DAY_MS, 1000, 'Milliseconds an Idempotency-Key is remembered'),
} satisfies Record<keyof AppConfig, Spec>;

type Key = keyof typeof SCHEMA;

/** Strict coercions: convict's own read "12abc" as 12 and "no" as true, which hides typos. */
const BOOLS: Record<string, boolean> = { true: true, '1': true, yes: true, on: true, false: false, '0': false, no: false, off: false };
// An unparsable string is left as is, so the checker below reports it instead of a guess.
convict.addFormat({ name: 'br-int', validate: () => undefined, coerce: (v: string) => (/^\s*-?\d+\s*$/.test(v) ? Number(v) : v) });
convict.addFormat({ name: 'br-bool', validate: () => undefined, coerce: (v: string) => BOOLS[v.trim().toLowerCase()] ?? v });
for (const name of ['br-string', 'br-enum', 'br-pg-url', 'br-whsec', 'br-durations', 'br-allow-list']) convict.addFormat({ name, validate: () => undefined });

/** Returns the problem with a coerced value, or undefined. The value itself is printed by the caller. */
function problemWith(spec: Spec, value: unknown): string | undefined {
  switch (spec.format) {
    case 'br-int': {
      const ok = typeof value === 'number' && Number.isSafeInteger(value) && value >= spec.min! && value <= spec.max!;
      const range = spec.max === Number.MAX_SAFE_INTEGER ? `${spec.min} or more` : `from ${spec.min} to ${spec.max}`;
      return ok ? undefined : `must be a whole number ${range}`;
    }
    case 'br-bool':
      return typeof value === 'boolean' ? undefined : 'must be true or false';
    case 'br-enum':
      return spec.values!.includes(value as string) ? undefined : `must be one of ${spec.values!.join(', ')}`;
    case 'br-pg-url':
      if (value === '' || /^postgres(ql)?:\/\/\S+$/.test(String(value))) return undefined;
      return 'must be a postgres:// or postgresql:// connection string';
    case 'br-whsec':
      return value === '' ? undefined : decodeWebhookSecret(String(value)).problem;
    case 'br-durations':
      return parseDurationList(String(value)).problem;
    case 'br-allow-list':
      return parseAllowList(String(value)).problem;
    default:
      return typeof value === 'string' ? undefined : 'must be text';
  }
}

/** A setting the operator must fix before the process can run; the CLI exits 2 on it. */
export class ConfigurationError extends Error {
  /** Stable machine-readable code beside the human reason. */
  readonly code = 'config_invalid';
  constructor(readonly problems: readonly string[]) {
    // One problem fits on one line; several are listed one per line.
    super(problems.length === 1 ? `invalid configuration: ${problems[0]}` : `invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigurationError';
  }
}

/** Reads, validates and derives the configuration. Throws {@link ConfigurationError} listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  // args: [] so a CLI flag never leaks into configuration by accident.
  const conf = convict<Record<Key, unknown>>(SCHEMA as convict.Schema<Record<Key, unknown>>, { env, args: [] });
  const problems: string[] = [];
  for (const [key, spec] of Object.entries(SCHEMA) as [Key, Spec][]) {
    const problem = problemWith(spec, conf.get(key));
    if (!problem) continue;
    const shown = spec.sensitive ? '(value hidden)' : JSON.stringify(env[spec.env]);
    const fallback = JSON.stringify(spec.default);
    problems.push(`${spec.env}=${shown} ${problem}: fix the value, or unset ${spec.env} to use the default (${fallback})`);
  }
  if (problems.length > 0) throw new ConfigurationError(problems);

  // Every value passed its check above, so the shape is AppConfig before derivation.
  const raw = conf.getProperties() as unknown as AppConfig;
  const leaseMs = raw.leaseMs;
  const heartbeatMs: number = raw.heartbeatMs === 0 ? Math.floor(leaseMs / 3) : raw.heartbeatMs;
  if (heartbeatMs >= leaseMs) {
    throw new ConfigurationError([
      `BATCH_ROUTER_HEARTBEAT_MS=${heartbeatMs} must be below BATCH_ROUTER_LEASE_MS=${leaseMs}, or leases expire ` +
        'between renewals: lower it, or unset it to use leaseMs/3',
    ]);
  }
  if (raw.apiHeadersTimeoutMs > raw.apiRequestTimeoutMs) {
    throw new ConfigurationError([
      `BATCH_ROUTER_API_HEADERS_TIMEOUT_MS=${raw.apiHeadersTimeoutMs} must not exceed BATCH_ROUTER_API_REQUEST_TIMEOUT_MS=${raw.apiRequestTimeoutMs}, `
        + 'since the headers are part of the request: lower the first or raise the second',
    ]);
  }
  // Paths are made absolute now so messages name the real location and a later chdir changes nothing.
  const dataDir = resolve(raw.dataDir);
  const config: AppConfig = {
    ...raw,
    dataDir,
    destinationsFile: resolve(raw.destinationsFile),
    stagingDir: raw.stagingDir === '' ? join(dataDir, 'staging') : resolve(raw.stagingDir),
    workerId: raw.workerId || `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`,
    heartbeatMs,
    apiKeysFile: resolve(raw.apiKeysFile),
    // The two lists arrive as the text convict read; their checks above passed.
    callbackRetrySchedule: Object.freeze(parseDurationList(String(raw.callbackRetrySchedule)).value!),
    callbackAllowList: Object.freeze(parseAllowList(String(raw.callbackAllowList)).value!),
  };
  // Every value is a primitive or a frozen list, so freezing the object freezes it deeply.
  return Object.freeze(config);
}

/** A frozen copy of the environment, for `${ENV}` substitution and tunable resolution elsewhere. */
export function envSnapshot(env: NodeJS.ProcessEnv = process.env): Readonly<Record<string, string>> {
  const copy: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) copy[name] = value;
  return Object.freeze(copy);
}

export interface ConfigRow {
  /** Key in {@link AppConfig}. */
  readonly key: keyof AppConfig;
  /** Environment variable that sets it. */
  readonly env: string;
  /** Value used when the variable is unset. */
  readonly default: string | number | boolean;
  /** One line for README tables and `batch-router config`. */
  readonly doc: string;
}

/** Every setting with its env var, default and doc line, in schema order. */
export function describeConfig(): ConfigRow[] {
  const rows = Object.entries(SCHEMA) as [Key, Spec][];
  return rows.map(([key, spec]) => ({ key, env: spec.env, default: spec.default, doc: spec.doc }));
}
