import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigurationError, describeConfig, envSnapshot, loadConfig } from '../src/config.ts';

function problemOf(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('expected loadConfig to throw');
}

describe('loadConfig', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('applies the documented defaults and derives the empty ones', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      databaseUrl: '',
      embeddedPort: 0,
      autoMigrate: true,
      logLevel: 'info',
      logFormat: 'auto',
      leaseMs: 30_000,
      heartbeatMs: 10_000,
      shutdownGraceMs: 25_000,
      idlePollMs: 200,
      arrivalListen: true,
      arrivalSafetyPollMs: 30_000,
      sweepIntervalMs: 5000,
      retentionMaxAgeMs: 7 * 24 * 60 * 60 * 1000,
      retentionBatchSize: 5000,
      dbPoolSize: 10,
      port: 8080,
      apiHost: '',
      nodeEnv: 'production',
    });
    expect(config.dataDir).toBe(resolve('data'));
    expect(config.stagingDir).toBe(join(resolve('data'), 'staging'));
    expect(config.destinationsFile).toBe(resolve('config/destinations.json'));
    expect(config.workerId).toMatch(new RegExp(`-${process.pid}-[0-9a-f]{4}$`));
  });

  it('reads values from the env it is given, not from process.env', () => {
    vi.stubEnv('PORT', '1234');
    expect(loadConfig({}).port).toBe(8080);
    const config = loadConfig({
      PORT: '9090',
      BATCH_ROUTER_DATA_DIR: '/var/lib/br',
      BATCH_ROUTER_STAGING_DIR: '/tmp/stage',
      BATCH_ROUTER_AUTO_MIGRATE: 'off',
      BATCH_ROUTER_LEASE_MS: ' 9000 ',
      BATCH_ROUTER_WORKER_ID: 'worker-a',
      LOG_FORMAT: 'json',
      BATCH_ROUTER_LOG_FORMAT: 'pretty',
      DATABASE_URL: 'postgres://u:p@db:5432/x',
    });
    expect(config).toMatchObject({
      port: 9090,
      dataDir: '/var/lib/br',
      stagingDir: '/tmp/stage',
      autoMigrate: false,
      leaseMs: 9000,
      heartbeatMs: 3000,
      workerId: 'worker-a',
      logFormat: 'pretty',
      databaseUrl: 'postgres://u:p@db:5432/x',
    });
  });

  it('returns a frozen object', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('names the variable and the fix for a bad value, rejecting half-numbers', () => {
    const message = problemOf({ BATCH_ROUTER_LEASE_MS: '30s' });
    expect(message).toContain('BATCH_ROUTER_LEASE_MS="30s"');
    expect(message).toContain('must be a whole number 1000 or more');
    expect(message).toContain('unset BATCH_ROUTER_LEASE_MS to use the default (30000)');
  });

  it('lists every bad variable at once', () => {
    const message = problemOf({ PORT: '70000', LOG_LEVEL: 'loud', BATCH_ROUTER_AUTO_MIGRATE: 'maybe' });
    expect(message).toContain('PORT="70000" must be a whole number from 0 to 65535');
    expect(message).toContain('LOG_LEVEL="loud" must be one of fatal, error, warn, info, debug, trace, silent');
    expect(message).toContain('BATCH_ROUTER_AUTO_MIGRATE="maybe" must be true or false');
  });

  it('never echoes the password of DATABASE_URL, but shows the rest where the typo usually is', () => {
    const message = problemOf({ DATABASE_URL: 'mysql://admin:s3cr3t-pw@db/x' });
    expect(message).toContain('DATABASE_URL="mysql://admin:***@db/x" must be a connection string such as postgres://');
    expect(message).not.toContain('s3cr3t-pw');
  });

  it('refuses a heartbeat that is not below the lease', () => {
    const message = problemOf({ BATCH_ROUTER_LEASE_MS: '3000', BATCH_ROUTER_HEARTBEAT_MS: '3000' });
    expect(message).toContain('BATCH_ROUTER_HEARTBEAT_MS=3000 must be below BATCH_ROUTER_LEASE_MS=3000');
    expect(loadConfig({ BATCH_ROUTER_LEASE_MS: '3000', BATCH_ROUTER_HEARTBEAT_MS: '2999' }).heartbeatMs).toBe(2999);
  });

  it('allows 0 where 0 means "disabled" or "pick one"', () => {
    const config = loadConfig({ BATCH_ROUTER_RETENTION_MAX_AGE_MS: '0', PORT: '0' });
    expect(config.retentionMaxAgeMs).toBe(0);
    expect(config.port).toBe(0);
    expect(problemOf({ BATCH_ROUTER_DB_POOL_SIZE: '0' })).toContain('BATCH_ROUTER_DB_POOL_SIZE="0"');
  });
});

describe('envSnapshot', () => {
  it('copies defined values and freezes the copy', () => {
    const env: NodeJS.ProcessEnv = { A: '1', B: undefined };
    const snapshot = envSnapshot(env);
    env.A = 'changed';
    expect(snapshot).toEqual({ A: '1' });
    expect(Object.isFrozen(snapshot)).toBe(true);
  });
});

describe('describeConfig', () => {
  it('documents every key with a distinct env var, a default and a doc line', () => {
    const rows = describeConfig();
    expect(rows.map((row) => row.key).sort()).toEqual(Object.keys(loadConfig({})).sort());
    expect(new Set(rows.map((row) => row.env)).size).toBe(rows.length);
    for (const row of rows) {
      expect(row.doc.length).toBeGreaterThan(10);
      expect(row.default).not.toBeUndefined();
    }
    expect(rows.find((row) => row.key === 'databaseUrl')).toMatchObject({ env: 'DATABASE_URL', default: '' });
  });
});
