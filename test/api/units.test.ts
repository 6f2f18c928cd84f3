import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/api/auth.ts';
import { nextDelayMs } from '../../src/api/callbacks/loop.ts';
import { parseRetryAfter } from '../../src/api/callbacks/sender.ts';
import { fieldName } from '../../src/api/errors.ts';
import { parsePrefer, serialiseEvents } from '../../src/api/http-semantics.ts';
import { ConfigurationError, loadConfig } from '../../src/config.ts';

function problemOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('expected a configuration error');
}

describe('API settings', () => {
  it('have documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      apiBodyLimitBytes: 10 * 1024 * 1024, apiRateLimit: 50, apiRateBurst: 100, callbackSecret: '', callbackAllowList: [],
      callbackTimeoutMs: 15_000, ssePollMs: 1000, sseHeartbeatMs: 15_000, idempotencyTtlMs: 86_400_000,
    });
    expect(config.apiKeysFile).toMatch(/config\/api-keys\.json$/);
    expect(config.callbackRetrySchedule).toEqual([0, 5e3, 3e5, 18e5, 72e5, 18e6, 36e6, 504e5, 72e6, 864e5]);
    expect(Object.isFrozen(config.callbackRetrySchedule)).toBe(true);
  });

  it('parse lists and name the variable on a bad value, never echoing the secret', () => {
    const config = loadConfig({ BATCH_ROUTER_CALLBACK_RETRY_SCHEDULE: '0, 250ms, 2s, 1.5m', BATCH_ROUTER_CALLBACK_ALLOW_LIST: 'Hooks.Example.com, *.corp.test, 10.0.0.0/8, ::1' });
    expect(config.callbackRetrySchedule).toEqual([0, 250, 2000, 90_000]);
    expect(config.callbackAllowList).toEqual(['hooks.example.com', '*.corp.test', '10.0.0.0/8', '::1']);
    expect(problemOf({ BATCH_ROUTER_CALLBACK_RETRY_SCHEDULE: '5s,soon' })).toContain('BATCH_ROUTER_CALLBACK_RETRY_SCHEDULE="5s,soon" has "soon"');
    expect(problemOf({ BATCH_ROUTER_CALLBACK_ALLOW_LIST: '10.0.0.0/33' })).toContain('BATCH_ROUTER_CALLBACK_ALLOW_LIST');
    const secret = problemOf({ BATCH_ROUTER_CALLBACK_SECRET: 'whsec_c2hvcnQ=' });
    expect(secret).toContain('BATCH_ROUTER_CALLBACK_SECRET=(value hidden) must decode to 24 to 64 bytes');
    expect(secret).not.toContain('c2hvcnQ');
    expect(problemOf({ BATCH_ROUTER_CALLBACK_SECRET: 'plain-text' })).toContain('must start with "whsec_"');
  });
});

describe('request semantics', () => {
  it('reads Prefer preferences, capping wait', () => {
    expect(parsePrefer(undefined)).toEqual({ respondAsync: false, waitSeconds: 0 });
    expect(parsePrefer('respond-async, wait=10')).toEqual({ respondAsync: true, waitSeconds: 10 });
    expect(parsePrefer(['return=minimal', 'Wait="5"; foo'])).toEqual({ respondAsync: false, waitSeconds: 5 });
    expect(parsePrefer('wait=3600').waitSeconds).toBe(60);
    expect(parsePrefer('wait=soon').waitSeconds).toBe(0);
  });

  it('refuses only what jsonb and receivers refuse: a real NUL or a lone surrogate, not the text \\u0000', () => {
    expect(serialiseEvents([{ text: 'a backslash then u0000: \\u0000' }], 64)).toHaveLength(1);
    expect(() => serialiseEvents([{ ok: 1 }, { text: 'nul\u0000' }], 64)).toThrow(/events\[1\]/);
    expect(() => serialiseEvents([{ text: '\ud800 alone' }], 64)).toThrow(/surrogate/);
    expect(serialiseEvents([{ emoji: '😀' }], 64)).toEqual(['{"emoji":"😀"}']);
  });

  it('names fields the way callers write them', () => {
    expect(fieldName('/events/3/name')).toBe('events[3].name');
    expect(fieldName('/callback', 'url')).toBe('callback.url');
    expect(fieldName('')).toBe('');
  });
});

describe('callback schedule', () => {
  it('jitters each planned delay by ±20%, lets a longer Retry-After win, and ends with the schedule', () => {
    const schedule = [0, 1000, 60_000];
    expect(nextDelayMs(schedule, 1, undefined, () => 0)).toBe(800);
    expect(nextDelayMs(schedule, 1, undefined, () => 1)).toBe(1200);
    expect(nextDelayMs(schedule, 1, 30_000, () => 0.5)).toBe(30_000);
    expect(nextDelayMs(schedule, 2, 1000, () => 0.5)).toBe(60_000);
    expect(nextDelayMs(schedule, 3)).toBeUndefined();
    expect(nextDelayMs(schedule, 1, 10 * 86_400_000, () => 0.5)).toBe(86_400_000);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('120')).toBe(120_000);
    expect(parseRetryAfter(new Date(Date.now() + 10_000).toUTCString())).toBeGreaterThan(8000);
    expect(parseRetryAfter('later')).toBeUndefined();
  });
});

describe('metrics helpers and rate limits', () => {
  it('allows a burst, then the average rate, per key', () => {
    let now = 0;
    const limiter = new RateLimiter(2, 3, () => now);
    expect([1, 2, 3, 4].map(() => limiter.take('k').allowed)).toEqual([true, true, true, false]);
    expect(limiter.take('other').allowed).toBe(true);
    now += 500; // one token back at 2 per second
    expect(limiter.take('k').allowed).toBe(true);
    expect(limiter.take('k')).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(new RateLimiter(0, 1).take('k').allowed).toBe(true);
  });
});
