/**
 * Config of a Klaviyo bulk-import destination. `apiKey` is a secret: marked for redaction, never
 * quoted by a validation message, sent only in the Authorization header.
 */
import { configSchema, f } from '../../src/manager/config-schema.ts';

/** Klaviyo profile attributes a mapping may fill, besides `location.*` and `properties[.*]`. */
export const PROFILE_ATTRIBUTES = [
  'email',
  'phone_number',
  'external_id',
  'first_name',
  'last_name',
  'organization',
  'locale',
  'title',
  'image',
] as const;

export const LOCATION_ATTRIBUTES = ['address1', 'address2', 'city', 'country', 'latitude', 'longitude', 'region', 'zip', 'timezone', 'ip'] as const;

/** Identifiers in the order the correlation key prefers them (see profile.ts). */
export const IDENTIFIERS = ['external_id', 'email', 'phone_number'] as const;

/**
 * The newest stable revision when this was written (released 2026-10-15; supported until 2028-10).
 * The request and response shapes used here are unchanged since 2024, so a newer revision is safe.
 */
export const DEFAULT_REVISION = '2026-10-15';

/** What happens to jobs whose outcome Klaviyo's results leave unknown (see README, "Reconciliation"). */
export const UNCONFIRMED_POLICIES = ['resend', 'abort'] as const;
export type UnconfirmedPolicy = (typeof UNCONFIRMED_POLICIES)[number];

const DEFAULT_MAPPING: Record<string, string> = {
  email: 'email',
  phone: 'phone_number',
  userId: 'external_id',
  firstName: 'first_name',
  lastName: 'last_name',
  properties: 'properties',
};

/** Channels a subscription can consent to in this manager (Klaviyo also has WhatsApp and push). */
export const CONSENT_CHANNELS = ['email', 'sms'] as const;
export type ConsentChannel = (typeof CONSENT_CHANNELS)[number];

export const klaviyoConfig = configSchema({
  mode: f.custom<'import' | 'subscribe'>(
    'string',
    {
      doc: '"import" (default): upsert profiles with Bulk Import Profiles. "subscribe": record marketing consent with Bulk Subscribe Profiles (see README, "Subscribe mode").',
      default: 'import',
    },
    (v) => (v === 'import' || v === 'subscribe' ? undefined : 'must be "import" or "subscribe"'),
  ),
  apiKey: f.string({
    doc: 'Klaviyo private API key (pk_...) with the profiles:write, profiles:read, lists:write and lists:read scopes; write "${KLAVIYO_API_KEY}".',
    secret: true,
  }),
  baseUrl: f.url({ doc: 'API origin; change it only to point tests at a fake.', default: 'https://a.klaviyo.com' }),
  revision: f.custom<string>(
    'string',
    {
      doc: 'Value of the "revision" header: the API version the requests are written for (YYYY-MM-DD). Klaviyo retires a revision two years after its release; move to a newer one before then.',
      default: DEFAULT_REVISION,
    },
    (v) => (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}(\.[a-z0-9-]+)?$/.test(v) ? undefined : `must be a date such as "${DEFAULT_REVISION}" (optionally with a ".suffix")`),
  ),
  listId: f.string({ doc: 'Id of a Klaviyo list to add every imported profile to; omit to only upsert profiles.', optional: true }),
  profileMapping: f.custom<Record<string, string>>(
    'object of strings',
    {
      doc: 'Event field path → profile attribute, e.g. {"traits.email": "email", "traits.plan": "properties.plan", "traits.city": "location.city"}.',
      default: DEFAULT_MAPPING,
    },
    mappingProblem,
  ),
  rateLimitPerMinute: f.int({
    doc: 'Client-side steady request rate to Klaviyo per process (its documented limit for these endpoints is 150/m).',
    default: 150,
    min: 1,
    max: 100_000,
  }),
  rateLimitBurst: f.int({
    doc: 'Requests that may go back to back before the steady rate applies (Klaviyo documents a burst of 10/s).',
    default: 10,
    min: 1,
    max: 10_000,
  }),
  consentChannels: f.custom<ConsentChannel[]>(
    'array of strings',
    { doc: 'Subscribe mode: channels each profile consents to, ["email"], ["sms"] or ["email", "sms"]; a channel whose identifier the event lacks is left out.', default: ['email'] },
    (v) =>
      Array.isArray(v) && v.length > 0 && v.every((c) => (CONSENT_CHANNELS as readonly unknown[]).includes(c)) && new Set(v).size === v.length
        ? undefined
        : `must be a non-empty list of distinct channels among ${CONSENT_CHANNELS.join(', ')}`,
  ),
  historicalImport: f.bool({
    doc: 'Subscribe mode: consent was collected in the past (Klaviyo skips double opt-in and "Added to list" flows); each event must then carry its consent time at consentedAtPath.',
    default: false,
  }),
  consentedAtPath: f.string({ doc: 'Subscribe mode with historicalImport: event field holding when consent was given (ISO 8601, in the past).', optional: true }),
  customSource: f.string({ doc: 'Subscribe mode: a source to store on the consent records, e.g. "Checkout form".', optional: true }),
  unconfirmedPolicy: f.custom<UnconfirmedPolicy>(
    'string',
    {
      doc: 'When Klaviyo counts more failed profiles than its import errors name: "resend" (default; an import is an idempotent upsert, so the jobs without a listed error are sent again) or "abort" (they end aborted with code outcome_unconfirmed).',
      default: 'resend',
    },
    (v) => ((UNCONFIRMED_POLICIES as readonly unknown[]).includes(v) ? undefined : `must be one of ${UNCONFIRMED_POLICIES.join(', ')}`),
  ),
  resultRereads: f.int({
    doc: 'Extra reads of the import errors when they do not add up to the job\'s failed_count (Klaviyo writes them asynchronously) before the unconfirmed policy applies.',
    default: 2,
    min: 0,
    max: 10,
  }),
  resultRereadDelayMs: f.int({ doc: 'Wait before each extra read of the import errors, in ms.', default: 2_000, min: 0, max: 60_000 }),
}, (config) => {
  if (config.historicalImport && config.consentedAtPath === undefined) {
    return { field: 'consentedAtPath', problem: 'is required when historicalImport is true: Klaviyo needs consented_at for every profile of a historical import' };
  }
  if (!config.historicalImport && config.consentedAtPath !== undefined) {
    return { field: 'consentedAtPath', problem: 'may only be set with historicalImport: true; Klaviyo refuses consented_at otherwise' };
  }
  return undefined;
});

export type KlaviyoConfig = ReturnType<typeof klaviyoConfig.parse>;

/** True for a target a mapping may name. */
export function isProfileTarget(target: string): boolean {
  if ((PROFILE_ATTRIBUTES as readonly string[]).includes(target) || target === 'properties') return true;
  const [head, rest, ...more] = target.split('.');
  if (more.length > 0 || !rest) return false;
  if (head === 'location') return (LOCATION_ATTRIBUTES as readonly string[]).includes(rest);
  return head === 'properties';
}

function mappingProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'must be an object of event field paths to profile attributes, such as {"traits.email": "email"}';
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return 'must map at least one event field; Klaviyo needs an email, phone_number or external_id';
  const targets = new Set<string>();
  for (const [path, target] of entries) {
    if (path === '' || path.split('.').some((part) => part === '')) return `has the field path "${path}", which has an empty segment`;
    if (typeof target !== 'string') return `maps "${path}" to something that is not a string`;
    if (!isProfileTarget(target)) {
      return `maps "${path}" to "${target}", which is not a Klaviyo profile attribute; use one of ${PROFILE_ATTRIBUTES.join(', ')}, location.<${LOCATION_ATTRIBUTES.join('|')}>, properties or properties.<name>`;
    }
    if (targets.has(target)) return `maps two fields to "${target}"; keep one`;
    targets.add(target);
  }
  if (!IDENTIFIERS.some((id) => targets.has(id))) {
    return `maps no field to ${IDENTIFIERS.join(', ')}; Klaviyo needs one of them to identify a profile`;
  }
  return undefined;
}
