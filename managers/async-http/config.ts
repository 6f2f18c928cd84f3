/**
 * Config of an async-http destination: an in-house service speaking the async-operations protocol
 * (README.md). Header values are secrets (API keys, bearer tokens): marked for redaction, and no
 * validation message below ever quotes one.
 */
import { configSchema, f } from '../../src/manager/config-schema.ts';
import { TRANSPORT_HEADERS, headerMapProblem } from '../_http/headers.ts';

/** Set by the manager on every request; a user value would silently fight with it. */
const MANAGED_HEADERS = new Set([...TRANSPORT_HEADERS, 'content-type', 'accept', 'idempotency-key']);

export const asyncHttpConfig = configSchema({
  baseUrl: f.url({
    doc: 'Root of the service, e.g. "https://jobs.internal.example.com/v1"; the manager calls {baseUrl}/operations/batch and {baseUrl}/operations/{id}.',
  }),
  headers: f.custom<Record<string, string>>(
    'object of strings',
    { doc: 'Extra request headers such as {"Authorization": "Bearer ${JOBS_TOKEN}"}; values are secrets.', secret: true, default: {} },
    (value) => headerMapProblem(value, MANAGED_HEADERS),
  ),
  pollIntervalMs: f.int({
    doc: 'Milliseconds between status checks of an accepted operation (the first check included).',
    default: 5_000,
    min: 50,
    max: 3_600_000,
  }),
  maxOperationsPerRequest: f.int({
    doc: 'Most operations in one POST /operations/batch; a bigger upload is split into several requests.',
    default: 100,
    min: 1,
    max: 10_000,
  }),
  callbackUrl: f.custom<string>(
    'url',
    { doc: 'Optional URL sent as "callbackUrl" with each submit, for a service that reports completion by calling back.', optional: true },
    (value) => {
      if (typeof value !== 'string' || !URL.canParse(value)) return 'must be a full URL such as "https://router.example.com/v1/callbacks/async-http"';
      const { protocol } = new URL(value);
      return protocol === 'http:' || protocol === 'https:' ? undefined : 'must use http: or https:';
    },
  ),
  timeoutMs: f.int({
    doc: 'Milliseconds one request (submit or status check) may take before it counts as failed and is retried.',
    default: 30_000,
    min: 100,
    max: 600_000,
  }),
});

export type AsyncHttpConfig = ReturnType<typeof asyncHttpConfig.parse>;
