/**
 * Which IP addresses a callback may never reach by default: every special-use range of the IANA
 * IPv4 and IPv6 Special-Purpose Address Registries (loopback, private, link-local, CGNAT,
 * documentation, benchmarking, 6to4 and its relay anycast 192.88.99.0/24, Teredo, NAT64, ORCHID,
 * AS112, AMT, segment routing...), plus multicast, broadcast and the deprecated site-local
 * fec0::/10. The ranges come from ipaddr.js (`range()`, kept current by its maintainers), which
 * covers every registry entry but one; the supplement is a single positive rule rather than a
 * hand-kept list: an IPv6 address must lie in the global unicast block 2000::/3 (IANA IPv6
 * Address Space registry). That catches what ipaddr.js leaves as "unicast" outside it: the
 * dummy prefix 100:0:0:1::/64 (RFC 9780), the deprecated IPv4-compatible ::/96 (`[::127.0.0.1]`)
 * and every unassigned block.
 *
 * An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is judged by the IPv4 address it carries.
 */
import ipaddr from 'ipaddr.js';

const GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');

/** The special-use range `address` falls in (e.g. "loopback", "6to4"), or undefined for a public unicast address. */
export function specialUseRange(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return 'invalid';
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  const range = ip.range();
  if (range !== 'unicast') return range;
  if (ip.kind() === 'ipv6' && !ip.match(GLOBAL_UNICAST)) return 'outside global unicast 2000::/3';
  return undefined;
}
