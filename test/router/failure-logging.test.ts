/**
 * Routine failures (an upload timeout, a vendor 5xx) are logged with their reason and code and no
 * stack; an unexpected error keeps its stack. Logged through a real pino logger, as the router does.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { classify, failureLogFields, RetryableError } from '../../src/manager/errors.ts';

function logged(thrown: unknown): Record<string, unknown> {
  const lines: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
  log.warn(failureLogFields(thrown, classify(thrown)), 'upload failed');
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

describe('failure logging', () => {
  it('an upload timeout is a reason and a code, no stack', () => {
    const line = logged(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    expect(line.reason).toContain('timed out');
    expect(line.code).toBe(classify(new DOMException('x', 'TimeoutError')).code);
    expect(JSON.stringify(line)).not.toContain('stack');
  });

  it('a vendor 5xx marked retryable keeps its reason and retry delay, no stack', () => {
    const line = logged(new RetryableError('vendor answered 503', { retryAfterMs: 2000 }));
    expect(line).toMatchObject({ action: 'retry', reason: 'vendor answered 503', retryAfterMs: 2000 });
    expect(JSON.stringify(line)).not.toContain('stack');
  });

  it('an unexpected error keeps its stack', () => {
    const line = logged(new TypeError('cannot read properties of undefined'));
    expect((line.err as { stack?: string }).stack).toContain('TypeError');
  });
});
