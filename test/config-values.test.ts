/**
 * Every setting, table-driven from the schema: a bad value names the variable, the value (never a
 * secret) and the fix; good values coerce to the typed value; the tunable variables are checked
 * with the same format and words.
 */
import { describe, expect, it } from 'vitest';
import { ConfigurationError, describeConfig, loadConfig, type AppConfig } from '../src/config.ts';
import { checkTuningEnv } from '../src/tuning-env.ts';
import { shownValue, type FormatName } from '../src/config-convict.ts';
import { SCHEMA } from '../src/config-schema.ts';
import { redactUrl } from '../src/db/connect.ts';

function problemsOf(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as ConfigurationError).problems;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

/** A wrong value for each format; every format the schema uses must have one. */
const BAD_BY_FORMAT: Record<FormatName, string[]> = {
  'whole-number': ['abc', '12abc', '1.5', '1e3', '99999999999999999999'],
  'true-false': ['maybe', ''],
  'one-of': ['loud', 'INFO '],
  text: ['a\0b'],
  path: ['data\0dir'],
  'postgres-url': ['mysql://db/x', 'postgres//db/x'],
  'webhook-secret': ['hunter2', 'whsec_c2hvcnQ='],
  'duration-list': ['5 minutes', ',', '1w'],
  'allow-list': ['bad host!', '10.0.0.0/33'],
};

const settings = Object.entries(SCHEMA);

describe('a bad value of any setting', () => {
  it.each(settings.flatMap(([key, spec]) => BAD_BY_FORMAT[spec.format].map((value) => [spec.env, value, key] as const)))(
    '%s=%j names the variable, the value and the fix',
    (env, value) => {
      const spec = Object.values(SCHEMA).find((s) => s.env === env)!;
      const problems = problemsOf({ [env]: value });
      expect(problems).toHaveLength(1);
      const shown = spec.sensitive ? '' : JSON.stringify(value);
      expect(problems[0]!.startsWith(`${env}=${shown}`)).toBe(true);
      expect(problems[0]).toMatch(/ (must|has) /);
      expect(problems[0]).toContain(`fix: correct it, or unset ${env} to use the default`);
      expect(problems[0]).not.toContain('\n');
    },
  );

  it.each(settings.filter(([, spec]) => spec.format === 'whole-number'))('%s is refused just outside its bounds', (_key, spec) => {
    const bounds = spec as { min?: number; max?: number };
    const below = String((bounds.min ?? 0) - 1);
    expect(problemsOf({ [spec.env]: below })[0]).toContain(`${spec.env}="${below}" must be a`);
    if (bounds.max !== undefined) expect(problemsOf({ [spec.env]: String(bounds.max + 1) })[0]).toContain(`from ${bounds.min} to ${bounds.max}`);
  });

  it('the schema uses no format without a bad example here', () => {
    for (const row of describeConfig()) expect(row.type, row.env).not.toBe('');
    for (const [, spec] of settings) expect(BAD_BY_FORMAT[spec.format]?.length, spec.env).toBeGreaterThan(0);
  });
});

describe('secrets in errors', () => {
  it('masks the password of DATABASE_URL, in the user part and in the query', () => {
    const problem = problemsOf({ DATABASE_URL: 'mysql://admin:pw-in-user@db/x' })[0]!;
    expect(problem).toContain('DATABASE_URL="mysql://admin:***@db/x"');
    expect(problem).not.toContain('pw-in-user');
    const query = problemsOf({ DATABASE_URL: 'mysql://admin@db/x?sslmode=require&password=pw-in-query' })[0]!;
    expect(query).toContain('password=***');
    expect(query).not.toContain('pw-in-query');
  });

  it.each(['admin:pw-plain@db', 'postgres:/admin:pw-plain@db/x', 'postgres://u:12/pw-plain@db', 'postgres://u:pw@plain@db', 'pg url pw-plain'])(
    'hides DATABASE_URL=%j, where the password could hide from the parser',
    (value) => expect(shownValue(SCHEMA.databaseUrl, value)).toBe('(value hidden)'),
  );

  it('hides a connection string that cannot be parsed, in the error too', () => {
    expect(problemsOf({ DATABASE_URL: 'admin:pw-plain@db' })[0]).toMatch(/^DATABASE_URL=\(value hidden\) must /);
  });

  it('hides any webhook secret', () => {
    const secret = `whsec_${Buffer.alloc(8, 7).toString('base64')}`;
    const problem = problemsOf({ BATCH_ROUTER_CALLBACK_SECRET: secret })[0]!;
    expect(problem).toMatch(/^BATCH_ROUTER_CALLBACK_SECRET=\(value hidden\) must decode to 24 to 64 bytes/);
    expect(problem).toContain('batch-router keys secret');
    expect(problem).not.toContain(secret.slice('whsec_'.length));
  });
});

describe('good values', () => {
  const secret = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
  const cases: [string, string, keyof AppConfig, unknown][] = [
    ['BATCH_ROUTER_EMBEDDED_PORT', ' 5433 ', 'embeddedPort', 5433],
    ['BATCH_ROUTER_AUTO_MIGRATE', 'NO', 'autoMigrate', false],
    ['BATCH_ROUTER_ARRIVAL_LISTEN', 'on', 'arrivalListen', true],
    ['LOG_LEVEL', 'debug', 'logLevel', 'debug'],
    ['BATCH_ROUTER_API_HOST', '::1', 'apiHost', '::1'],
    ['DATABASE_URL', 'postgresql://u:p@db:5432/x', 'databaseUrl', 'postgresql://u:p@db:5432/x'],
    ['BATCH_ROUTER_CALLBACK_SECRET', secret, 'callbackSecret', secret],
    ['BATCH_ROUTER_CALLBACK_RETRY_SCHEDULE', '0, 250ms, 1.5s, 3, 2m, 1h, 1d', 'callbackRetrySchedule', [0, 250, 1500, 3000, 120_000, 3_600_000, 86_400_000]],
    ['BATCH_ROUTER_CALLBACK_ALLOW_LIST', 'Hooks.Example.com, *.corp.example,10.0.0.0/8, ::1', 'callbackAllowList',
      ['hooks.example.com', '*.corp.example', '10.0.0.0/8', '::1']],
  ];
  it.each(cases)('%s=%j reads as the typed value', (env, text, key, expected) => {
    expect(loadConfig({ [env]: text })[key]).toEqual(expected);
  });

  it('the defaults pass their own formats, lists included', () => {
    const config = loadConfig({});
    expect(config.callbackRetrySchedule).toEqual([0, 5000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 50_400_000, 72_000_000, 86_400_000]);
    expect(config.callbackAllowList).toEqual([]);
    expect(Object.isFrozen(config.callbackRetrySchedule)).toBe(true);
  });
});

describe('tunable variables', () => {
  const managers = ['local-files', 'webhook'];

  it('name the variable, the value and the fix, with the same format as the process settings', () => {
    const { problems } = checkTuningEnv({ BATCH_ROUTER_MAX_ATTEMPTS: '0', BATCH_ROUTER_WEBHOOK_UPLOAD_TIMEOUT_MS: '5s' }, managers);
    expect(problems).toEqual([
      'BATCH_ROUTER_WEBHOOK_UPLOAD_TIMEOUT_MS="5s" must be a positive whole number: '
        + 'fix: set it to a number such as 300000, or unset it to use the default',
      'BATCH_ROUTER_MAX_ATTEMPTS="0" must be a positive whole number: fix: set it to a number such as 20, or unset it to use the default',
    ]);
  });

  it('take empty as unset and accept positive whole numbers', () => {
    expect(checkTuningEnv({ BATCH_ROUTER_MAX_ATTEMPTS: '', BATCH_ROUTER_LOCAL_FILES_UPLOAD_CONCURRENCY: ' 4 ' }, managers).problems).toEqual([]);
  });

  it('warn about an unknown BATCH_ROUTER_* name with the closest known one, settings included', () => {
    const { warnings } = checkTuningEnv({ BATCH_ROUTER_LEASE_MSS: '1', BATCH_ROUTER_WEBHOOK_MAX_ATEMPTS: '3', OTHER_VAR: 'x' }, managers);
    expect(warnings).toEqual([
      'BATCH_ROUTER_LEASE_MSS is not a setting batch-router knows, so it is ignored; did you mean BATCH_ROUTER_LEASE_MS?',
      'BATCH_ROUTER_WEBHOOK_MAX_ATEMPTS is not a setting batch-router knows, so it is ignored; did you mean BATCH_ROUTER_WEBHOOK_MAX_ATTEMPTS?',
    ]);
  });
});

describe('the database target in other messages', () => {
  it('drops the password, and hides a string whose password the parser could miss', () => {
    expect(redactUrl('postgres://app:pw-1@db:5432/x?sslpassword=pw-2&sslmode=require')).toBe('postgres://app@db:5432/x?sslmode=require');
    expect(redactUrl('postgres://u:12/pw-3@db')).toBe('(connection string hidden)');
  });
});
