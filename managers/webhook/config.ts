/**
 * Config of a webhook destination. Header values are secrets (API keys, bearer tokens): they are
 * marked secret for redaction, and no validation message below ever quotes one.
 */
import { configSchema, f } from '../../src/manager/config-schema.ts';
import { TRANSPORT_HEADERS, headerMapProblem } from '../_http/headers.ts';

export const webhookFormats = ['json', 'ndjson'] as const;
export type WebhookFormat = (typeof webhookFormats)[number];

/** Set by the manager on every request; a user value would silently fight with it. */
const managedHeaders = new Set([...TRANSPORT_HEADERS, 'content-type', 'idempotency-key']);

export const webhookConfig = configSchema({
  url: f.custom<string>(
    'url',
    { doc: 'Endpoint that receives one POST per batch, e.g. "https://hooks.example.com/events".' },
    checkUrl,
  ),
  headers: f.custom<Record<string, string>>(
    'object of strings',
    {
      doc: 'Extra request headers such as {"Authorization": "Bearer ${HOOK_TOKEN}"}; values are secrets.',
      secret: true,
      default: {},
    },
    (value) => headerMapProblem(value, managedHeaders),
  ),
  format: f.oneOf(webhookFormats, {
    doc: '"json" sends {"events":[...]}; "ndjson" sends one event per line.',
    default: 'json',
  }),
  timeoutMs: f.int({
    doc: 'Milliseconds to wait for the whole request and response before retrying the batch.',
    default: 30_000,
    min: 100,
    max: 600_000,
  }),
});

export type WebhookConfig = ReturnType<typeof webhookConfig.parse>;

/**
 * Not `f.url`: that one trims trailing slashes, which suits base URLs a manager appends paths to,
 * but a webhook URL is used exactly as written and some receivers insist on the slash.
 */
function checkUrl(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a URL string such as "https://hooks.example.com/events"';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not a valid URL; write it in full, such as "https://hooks.example.com/events"';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must use http: or https:';
  // fetch refuses URLs with credentials; point people at the header instead of a runtime failure.
  if (url.username || url.password) {
    return 'must not contain user:password@; send credentials with "headers", e.g. {"Authorization": "Basic ..."}';
  }
  return undefined;
}
