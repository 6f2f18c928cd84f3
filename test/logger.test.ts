import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactText } from '../src/logger.ts';

/** A writable stream that keeps what it is given, as a stand-in for stdout. */
function capture(): { stream: Writable; text: () => string; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const text = () => chunks.join('');
  const lines = () => text().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
  return { stream, text, lines };
}

describe('createLogger', () => {
  it('writes JSON lines at or above the configured level', () => {
    const out = capture();
    const log = createLogger({ logLevel: 'warn', logFormat: 'json' }, out.stream);
    log.info('hidden');
    log.warn({ destinationId: 'demo' }, 'shown');
    expect(out.lines()).toHaveLength(1);
    expect(out.lines()[0]).toMatchObject({ level: 40, msg: 'shown', destinationId: 'demo' });
  });

  it('censors secret-looking keys at several depths, in bindings too', () => {
    const out = capture();
    const log = createLogger({ logLevel: 'info', logFormat: 'json' }, out.stream);
    log.info(
      {
        password: 'pw-top',
        config: { clientSecret: 'cs-1', auth: { privateKey: 'pk-2', nested: { access_token: 'at-3' } } },
        request: { headers: { authorization: 'Bearer hdr-4', accept: 'application/json' } },
        apiKey: 'ak-5',
      },
      'call',
    );
    log.child({ token: 'child-tok' }).info('from child');
    const text = out.text();
    for (const secret of ['pw-top', 'cs-1', 'pk-2', 'at-3', 'hdr-4', 'ak-5', 'child-tok']) expect(text).not.toContain(secret);
    const [first, second] = out.lines();
    expect(first).toMatchObject({
      password: '[redacted]',
      config: { clientSecret: '[redacted]', auth: { privateKey: '[redacted]', nested: { access_token: '[redacted]' } } },
      request: { headers: { authorization: '[redacted]', accept: 'application/json' } },
    });
    expect(second).toMatchObject({ token: '[redacted]', msg: 'from child' });
  });

  it('pretty-prints synchronously when asked, still redacting', () => {
    const out = capture();
    const log = createLogger({ logLevel: 'info', logFormat: 'pretty' }, out.stream);
    log.info({ Authorization: 'Basic xyz', destinationId: 'demo' }, 'pretty hello');
    const text = out.text();
    expect(text).toContain('INFO');
    expect(text).toContain('pretty hello');
    expect(text).toContain('demo');
    expect(text).not.toContain('Basic xyz');
    expect(() => JSON.parse(text)).toThrow();
    expect(text).not.toMatch(/\u001b\[/); // no colour codes in a captured stream
  });

  it('writes JSON for auto when the output is not a terminal', () => {
    const out = capture();
    createLogger({ logLevel: 'info', logFormat: 'auto' }, out.stream).info('auto');
    // vitest's stdout is not a TTY in CI; if it is, pretty output is expected instead.
    if (process.stdout.isTTY) expect(out.text()).toContain('auto');
    else expect(out.lines()[0]).toMatchObject({ msg: 'auto' });
  });
});

describe('redactText', () => {
  it('replaces every occurrence of each secret', () => {
    const text = 'vendor said: invalid token abc.123 (token abc.123 expired) for user bob';
    expect(redactText(text, ['abc.123', 'bob'])).toBe('vendor said: invalid token [redacted] (token [redacted] expired) for user [redacted]');
  });

  it('treats secrets literally, ignores empty ones and prefers the longest match', () => {
    expect(redactText('a+b* and a', ['a+b*', ''])).toBe('[redacted] and a');
    expect(redactText('key=sk_live_ABC', ['sk_live', 'sk_live_ABC'])).toBe('key=[redacted]');
    expect(redactText('nothing here', [])).toBe('nothing here');
  });
});
