/**
 * The callback SSRF guard (issue 12, section 2): every special-use range of the IANA IPv4 and
 * IPv6 registries is refused, at submit (`problem`) and on the socket (`pinnedLookup`, which
 * applies the same address check to what DNS answered).
 */
import { describe, expect, it } from 'vitest';
import { CallbackPolicy } from '../../src/api/callbacks/allow-list.ts';
import { specialUseRange } from '../../src/api/callbacks/special-addresses.ts';

const policy = new CallbackPolicy([], false);

describe('callback SSRF guard', () => {
  it.each([
    // The five the attack found accepted:
    'http://[::127.0.0.1]/', 'http://[::ffff:0:127.0.0.1]/', 'http://[2002:7f00:1::]/', 'http://[fec0::1]/', 'http://192.88.99.1/',
    // and the rest of the registries:
    'http://127.0.0.1/', 'http://10.1.2.3/', 'http://169.254.169.254/latest', 'http://100.64.0.1/', 'http://192.0.0.9/', 'http://192.31.196.1/',
    'http://192.52.193.1/', 'http://192.175.48.1/', 'http://198.18.0.1/', 'http://240.0.0.1/', 'http://255.255.255.255/', 'http://224.0.0.1/',
    'http://0.0.0.0/', 'http://[::1]/', 'http://[::]/', 'http://[::ffff:10.0.0.1]/', 'http://[64:ff9b::7f00:1]/', 'http://[64:ff9b:1::1]/',
    'http://[100::1]/', 'http://[100:0:0:1::1]/', 'http://[2001::1]/', 'http://[2001:2::1]/', 'http://[2001:db8::1]/', 'http://[2001:20::1]/',
    'http://[2620:4f:8000::1]/', 'http://[3fff::1]/', 'http://[5f00::1]/', 'http://[fc00::1]/', 'http://[fe80::1]/', 'http://[ff02::1]/',
  ])('refuses %s', async (url) => {
    expect(await policy.problem(url)).toMatch(/special-use address/);
  });

  it.each(['http://93.184.215.14/', 'https://[2606:4700::6810:84e5]/hook', 'http://[::ffff:93.184.215.14]/'])('accepts the public %s', async (url) => {
    expect(await policy.problem(url)).toBeUndefined();
  });

  it('names the range in the message', () => {
    expect(specialUseRange('2002:7f00:1::')).toBe('6to4');
    expect(specialUseRange('::7f00:1')).toBe('outside global unicast 2000::/3');
    expect(specialUseRange('::ffff:127.0.0.1')).toBe('loopback');
  });

  it('refuses on the socket too: a name resolving to loopback never connects', async () => {
    const lookup = policy.pinnedLookup();
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => lookup('localhost', {}, (err) => resolve(err)));
    expect(error?.code).toBe('EREFUSED');
    expect(error?.message).toMatch(/special-use address/);
  });

  it('an explicit allow list still admits what it lists', async () => {
    expect(await new CallbackPolicy(['127.0.0.1'], false).problem('http://127.0.0.1:9/')).toBeUndefined();
  });
});
