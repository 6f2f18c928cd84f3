/**
 * Parsers behind the convict formats of config-convict.ts: whole numbers, lists and encoded
 * secrets. Each returns the parsed value or a problem phrased for the operator, never quoting a
 * secret; config-convict.ts adds the variable name, its value and the fix.
 */
import { isIP } from 'node:net';

/**
 * A whole number from a number or from text of digits (what an environment variable or `${ENV}`
 * substitution yields), within `min`..`max`; undefined for anything else. Strict on purpose:
 * "12abc", "1.5" and "1e3" are typos more often than intent.
 */
export function parseWholeNumber(value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const n = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
}

/** What is wrong with `value` as a whole number in `min`..`max`, or undefined when nothing is. */
export function wholeNumberProblem(value: unknown, min: number, max?: number): string | undefined {
  if (parseWholeNumber(value, min, max) !== undefined) return undefined;
  if (max !== undefined) return `must be a whole number from ${min} to ${max}`;
  return min === 1 ? 'must be a positive whole number' : `must be a whole number ${min} or more`;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "0, 5s, 5m, 2h" → milliseconds. A bare number is seconds. */
export function parseDurationList(text: string): { value?: number[]; problem?: string } {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) return { problem: 'must list at least one delay, such as 0,5s,5m,30m,2h' };
  const value: number[] = [];
  for (const item of items) {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(item);
    if (!match) return { problem: `has "${item}", which is not a duration such as 30s, 5m or 2h` };
    value.push(Math.round(Number(match[1]) * UNIT_MS[match[2] ?? 's']!));
  }
  return { value };
}

/**
 * Callback allow-list entries: a host name (`hooks.example.com`), a wildcard suffix
 * (`*.example.com`), an IP address, or a CIDR block (`10.0.0.0/8`, `fd00::/8`).
 */
export function parseAllowList(text: string): { value?: string[]; problem?: string } {
  const items = text.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
  for (const item of items) {
    if (!isAllowListEntry(item)) {
      return { problem: `has "${item}", which is neither a host name (or *.domain) nor an IP address or CIDR block` };
    }
  }
  return { value: items };
}

function isAllowListEntry(item: string): boolean {
  const [address, bits, extra] = item.split('/');
  if (extra !== undefined) return false;
  if (bits !== undefined) {
    const family = isIP(address ?? '');
    const max = family === 4 ? 32 : family === 6 ? 128 : 0;
    return max > 0 && /^\d{1,3}$/.test(bits) && Number(bits) <= max;
  }
  if (isIP(item) !== 0) return true;
  return /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(item);
}

/**
 * A Standard Webhooks signing secret, `whsec_<base64>` decoding to 24–64 random bytes. Returns
 * the decoded key, or a problem that never quotes the value.
 */
export function decodeWebhookSecret(text: string): { value?: Buffer; problem?: string } {
  if (!text.startsWith('whsec_')) return { problem: 'must start with "whsec_" followed by base64' };
  const body = text.slice('whsec_'.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return { problem: 'must be "whsec_" followed by standard base64' };
  const key = Buffer.from(body, 'base64');
  if (key.length < 24 || key.length > 64) {
    return { problem: `must decode to 24 to 64 bytes (it decodes to ${key.length}); generate one with: batch-router keys secret` };
  }
  return { value: key };
}
