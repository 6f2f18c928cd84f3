import { describe, expect, it } from 'vitest';
import { envVarFor, resolveTuning, TUNING_DEFAULTS, TUNING_DOCS, TUNING_KEYS } from '../src/tuning.ts';

const MANAGER = 'marketo-bulk-upload';

describe('envVarFor', () => {
  it('builds global and per-manager variable names', () => {
    expect(envVarFor(undefined, 'maxEventsPerUpload')).toBe('BATCH_ROUTER_MAX_EVENTS_PER_UPLOAD');
    expect(envVarFor(MANAGER, 'maxEventsPerUpload')).toBe('BATCH_ROUTER_MARKETO_BULK_UPLOAD_MAX_EVENTS_PER_UPLOAD');
    expect(envVarFor('webhook', 'uploadTimeoutMs')).toBe('BATCH_ROUTER_WEBHOOK_UPLOAD_TIMEOUT_MS');
  });
});

describe('resolveTuning', () => {
  it('uses the framework defaults when nothing is set', () => {
    const { tuning, problems, notes } = resolveTuning(MANAGER, {}, undefined, {}, {});
    expect(tuning).toEqual(TUNING_DEFAULTS);
    expect(TUNING_DEFAULTS.maxBytesPerUpload).toBe(50 * 1024 * 1024);
    expect(TUNING_DEFAULTS.maxImportDurationMs).toBe(6 * 60 * 60 * 1000);
    expect(problems).toEqual([]);
    expect(notes).toEqual([]);
    expect(Object.keys(TUNING_DOCS).sort()).toEqual([...TUNING_KEYS].sort());
  });

  it('applies file > manager env > global env > manager default > framework default', () => {
    const managerDefaults = { maxAttempts: 5, pollIntervalMs: 7000, retryWindowMs: 60_000, minBackoffMs: 2000 };
    const env = {
      BATCH_ROUTER_MAX_ATTEMPTS: '6',
      BATCH_ROUTER_MARKETO_BULK_UPLOAD_MAX_ATTEMPTS: '7',
      BATCH_ROUTER_POLL_INTERVAL_MS: '8000',
      BATCH_ROUTER_MARKETO_BULK_UPLOAD_POLL_INTERVAL_MS: '9000',
      BATCH_ROUTER_RETRY_WINDOW_MS: '120000',
      BATCH_ROUTER_WEBHOOK_MIN_BACKOFF_MS: '1', // another manager's variable: ignored here
    };
    const { tuning, problems } = resolveTuning(MANAGER, managerDefaults, { maxAttempts: 8 }, env, {});
    expect(problems).toEqual([]);
    expect(tuning.maxAttempts).toBe(8); // destination file
    expect(tuning.pollIntervalMs).toBe(9000); // per-manager env
    expect(tuning.retryWindowMs).toBe(120_000); // global env
    expect(tuning.minBackoffMs).toBe(2000); // manager default
    expect(tuning.maxBackoffMs).toBe(TUNING_DEFAULTS.maxBackoffMs); // framework default
  });

  it('names a bad env variable and the fix, then falls back to the next source', () => {
    const env = { BATCH_ROUTER_MARKETO_BULK_UPLOAD_UPLOAD_CONCURRENCY: 'two', BATCH_ROUTER_UPLOAD_CONCURRENCY: '3' };
    const { tuning, problems } = resolveTuning(MANAGER, {}, undefined, env, {});
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('BATCH_ROUTER_MARKETO_BULK_UPLOAD_UPLOAD_CONCURRENCY="two" must be a positive whole number');
    expect(problems[0]).toContain('fix: set it to a number such as 2');
    expect(tuning.uploadConcurrency).toBe(3);
  });

  it('rejects zero, negatives and fractions', () => {
    for (const bad of ['0', '-5', '1.5', '']) {
      const { problems } = resolveTuning(MANAGER, {}, undefined, { BATCH_ROUTER_MAX_ATTEMPTS: bad }, {});
      // An empty variable means "not set", everything else is an error.
      expect(problems).toHaveLength(bad === '' ? 0 : 1);
    }
  });

  it('names a bad tuning key or value of the destination file', () => {
    const { tuning, problems } = resolveTuning(MANAGER, {}, { maxAttemps: 3, uploadIntervalMs: -1 }, {}, {});
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain('field "tuning.maxAttemps" is not a tunable');
    expect(problems[0]).toContain('maxAttempts');
    expect(problems[1]).toContain('field "tuning.uploadIntervalMs" must be a positive whole number, got -1');
    expect(tuning.uploadIntervalMs).toBe(TUNING_DEFAULTS.uploadIntervalMs);
    expect(resolveTuning(MANAGER, {}, [1], {}, {}).problems[0]).toContain('field "tuning" must be an object');
  });

  it('accepts digit strings in the file, as ${ENV} substitution produces them', () => {
    expect(resolveTuning(MANAGER, {}, { maxAttempts: '12' }, {}, {}).tuning.maxAttempts).toBe(12);
  });

  it('caps values at the manager limits and says so unless it is the framework default', () => {
    const limits = { maxEventsPerUpload: 300, maxBytesPerUpload: 1000, maxConcurrentImports: 1 };
    const env = { BATCH_ROUTER_MAX_EVENTS_PER_UPLOAD: '5000' };
    const { tuning, problems, notes } = resolveTuning(MANAGER, {}, { uploadConcurrency: 4 }, env, limits);
    expect(problems).toEqual([]);
    expect(tuning.maxEventsPerUpload).toBe(300);
    expect(tuning.maxBytesPerUpload).toBe(1000);
    expect(tuning.uploadConcurrency).toBe(1);
    expect(notes).toHaveLength(2);
    expect(notes[0]).toContain('BATCH_ROUTER_MAX_EVENTS_PER_UPLOAD = 5000 is above the marketo-bulk-upload limit 300; using 300');
    expect(notes[1]).toContain('tuning.uploadConcurrency = 4');
  });

  it('reports a minimum backoff above the maximum', () => {
    const { problems } = resolveTuning(MANAGER, {}, { minBackoffMs: 10_000, maxBackoffMs: 5000 }, {}, {});
    expect(problems).toEqual([expect.stringContaining('minBackoffMs (10000) is above maxBackoffMs (5000)')]);
  });
});
