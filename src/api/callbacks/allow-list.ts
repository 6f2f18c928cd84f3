/**
 * Where callbacks may go. A callback is a request our server makes to a URL a caller chose, the
 * classic SSRF vector, so by default only public addresses are allowed: every special-use range
 * of the IANA registries is refused (special-addresses.ts), loopback, private and link-local
 * (cloud metadata at 169.254.169.254) among them. An operator can instead list hosts, `*.domain` suffixes, IPs and CIDRs; the list is
 * then the complete set of allowed targets, private or not. `NODE_ENV=development` allows any
 * address when no list is set.
 *
 * The check runs at submit (a clear 400) and again at every attempt through the socket's own
 * DNS lookup, so the address that was checked is the one connected to: a name re-pointed at an
 * internal address after the submit (DNS rebinding) is still refused.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { specialUseRange } from './special-addresses.ts';

function blockList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, bits] = entry.split('/') as [string, string | undefined];
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return list;
}

/** `::ffff:10.0.0.1` is 10.0.0.1: judge the IPv4 address it carries. */
function normalise(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return { address: mapped[1]!, family: 'ipv4' };
  return { address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

export class CallbackPolicy {
  readonly #hosts: string[];
  readonly #suffixes: string[];
  readonly #addresses: BlockList;
  readonly #listed: boolean;

  constructor(allowList: readonly string[], private readonly development: boolean) {
    this.#listed = allowList.length > 0;
    this.#hosts = allowList.filter((e) => isIP(e.split('/')[0]!) === 0 && !e.startsWith('*.'));
    this.#suffixes = allowList.filter((e) => e.startsWith('*.')).map((e) => e.slice(1));
    this.#addresses = blockList(allowList.filter((e) => isIP(e.split('/')[0]!) !== 0));
  }

  /** Why `url` may never be called (scheme, credentials, length), or undefined. No network. */
  syntaxProblem(url: string): string | undefined {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return 'is not an absolute URL';
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'must be an http or https URL';
    if (parsed.username || parsed.password) return 'must not carry credentials (user:password@)';
    return undefined;
  }

  /** Why an address of `host` is not an allowed target, or undefined. */
  addressProblem(host: string, address: string): string | undefined {
    if (this.#hostListed(host)) return undefined;
    const { address: ip, family } = normalise(address);
    if (this.#listed) return this.#addresses.check(ip, family) ? undefined : `resolves to ${address}, which is not in BATCH_ROUTER_CALLBACK_ALLOW_LIST`;
    const range = this.development ? undefined : specialUseRange(address);
    if (range === undefined) return undefined;
    return `resolves to ${address}, a special-use address (${range}: private, loopback or reserved), not a public one; `
      + 'list it in BATCH_ROUTER_CALLBACK_ALLOW_LIST to allow it';
  }

  /** Full check of a URL, resolving its host: what submit runs. */
  async problem(url: string): Promise<string | undefined> {
    const syntax = this.syntaxProblem(url);
    if (syntax) return syntax;
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
    if (this.#hostListed(host)) return undefined;
    let addresses: string[];
    try {
      addresses = isIP(host) ? [host] : (await dnsLookup(host, { all: true })).map((a) => a.address);
    } catch {
      return `has a host name that does not resolve (${host})`;
    }
    for (const address of addresses) {
      const problem = this.addressProblem(host, address);
      if (problem) return problem;
    }
    return undefined;
  }

  /** A socket `lookup` that resolves, refuses any disallowed address, and connects to a checked one. */
  pinnedLookup(): LookupFunction {
    return (hostname, options, callback) => {
      dnsLookup(hostname, { all: true, family: options.family ?? 0 }).then(
        (results) => {
          for (const r of results) {
            const problem = this.addressProblem(hostname.toLowerCase(), r.address);
            if (problem) return callback(Object.assign(new Error(`callback host ${hostname} ${problem}`), { code: 'EREFUSED' }), '', 0);
          }
          if (options.all) return (callback as unknown as (e: null, a: typeof results) => void)(null, results);
          return callback(null, results[0]!.address, results[0]!.family);
        },
        (error: NodeJS.ErrnoException) => callback(error, '', 0),
      );
    };
  }

  #hostListed(host: string): boolean {
    return this.#hosts.includes(host) || this.#suffixes.some((suffix) => host.endsWith(suffix));
  }
}
