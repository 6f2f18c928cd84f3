/**
 * Process configuration. This is the ONLY module that reads `process.env`: everything else gets a
 * frozen {@link AppConfig} or {@link envSnapshot}, so tests can pass their own environment and no
 * setting can change behind the daemon's back after start.
 *
 * convict does the reading: it maps env vars to keys, applies defaults, coerces with our formats
 * and validates (config-convict.ts); the schema with every setting's doc is config-schema.ts.
 * What is left here are the checks across settings and the derived values.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { describeFormat, validateSettings, type SettingSpec } from './config-convict.ts';
import { SCHEMA, type LogFormat, type LogLevel, type SettingKey } from './config-schema.ts';

/** The daemon's settings after defaults, validation and derivation. Deeply frozen. */
export interface AppConfig {
  /** PostgreSQL connection string; '' means "start an embedded PGlite in `dataDir`". */
  readonly databaseUrl: string;
  /** Absolute directory for the embedded database and, by default, staging files. */
  readonly dataDir: string;
  /** Loopback port the embedded database listens on; 0 lets the OS pick a free one. */
  readonly embeddedPort: number;
  /** Apply pending migrations on start instead of refusing to run against an old schema. */
  /** Hot statements go out as named prepared statements on a PostgreSQL server. */
  readonly preparedStatements: boolean;
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

export { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from './config-schema.ts';

// Compile-time check that the schema and AppConfig list the same keys.
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : never;
const schemaMatchesConfig: SameKeys<AppConfig, typeof SCHEMA> = true;
void schemaMatchesConfig;

/** The fix offered for a bad process setting: the default always works. */
function fixFor(spec: SettingSpec): string {
  return `fix: correct it, or unset ${spec.env} to use the default (${spec.default === '' ? 'empty' : JSON.stringify(spec.default)})`;
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
  const { values, problems } = validateSettings(SCHEMA, env, fixFor);
  if (problems.length > 0) throw new ConfigurationError(problems);

  // convict validated every value against its format, so the shape is AppConfig before derivation.
  const raw = values as unknown as AppConfig;
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
    // The list formats coerced these to fresh arrays; freezing keeps the whole object immutable.
    callbackRetrySchedule: Object.freeze([...raw.callbackRetrySchedule]),
    callbackAllowList: Object.freeze([...raw.callbackAllowList]),
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
  /** What values it takes, e.g. "whole number ≥ 1000". */
  readonly type: string;
  /** What it does, its unit and when to change it. */
  readonly doc: string;
  /** Its value is a secret and is never printed. */
  readonly sensitive: boolean;
}

/** Every setting with its env var, format, default and doc, in schema order. */
export function describeConfig(): ConfigRow[] {
  return (Object.entries(SCHEMA) as [SettingKey, SettingSpec][]).map(([key, spec]) => ({
    key, env: spec.env, default: spec.default, type: describeFormat(spec), doc: spec.doc, sensitive: spec.sensitive ?? false,
  }));
}
