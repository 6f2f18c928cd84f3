/**
 * The fake's Bulk Subscribe Profiles (`POST /api/profile-subscription-bulk-create-jobs`), as its
 * reference documents it: `data.type` profile-subscription-bulk-create-job, 1–1,000 profiles,
 * each a `profile` with `attributes.subscriptions`; consent "SUBSCRIBED" only; an email channel
 * needs an email and an SMS channel an E.164 phone number; `consented_at` only with
 * `historical_import: true`, and then required and in the past; the list as
 * `relationships.list.data`. Accepted requests answer 202 with no body: there is no job to read.
 */
import { readDocument, refuse, type FakeError, type FakeReply } from './klaviyo-fake-errors.ts';

export const MAX_SUBSCRIBE_PROFILES = 1_000;

export interface Subscription {
  email?: string;
  phone_number?: string;
  channels: string[];
  consentedAt?: string;
  listId?: string;
  historical: boolean;
  customSource?: string;
}

export function createSubscriptions(body: string, lists: string[] | undefined, recorded: Subscription[]): FakeReply {
  const read = readDocument(body, 'profile-subscription-bulk-create-job');
  if ('refusal' in read) return read.refusal;
  const { doc } = read;
  const attributes = doc.data.attributes ?? {};
  const profiles = attributes.profiles?.data;
  if (!Array.isArray(profiles) || profiles.length === 0 || profiles.length > MAX_SUBSCRIBE_PROFILES) {
    return refuse(400, { code: 'invalid', detail: `Between 1 and ${MAX_SUBSCRIBE_PROFILES} profiles are required`, pointer: '/data/attributes/profiles/data' });
  }
  const historical = attributes.historical_import === true;
  const listId: unknown = doc.data.relationships?.list?.data?.id;
  if (listId !== undefined && (typeof listId !== 'string' || (lists && !lists.includes(listId)))) {
    return refuse(400, { code: 'invalid', detail: `List ${String(listId)} does not exist`, pointer: '/data/relationships/list/data/id' });
  }
  const rejects: FakeError[] = [];
  const accepted: Subscription[] = [];
  profiles.forEach((p: any, i: number) => {
    const at = `/data/attributes/profiles/data/${i}`;
    const problems = profileProblems(p, historical).map(([field, detail]) => ({ code: 'invalid', detail, pointer: `${at}${field}` }));
    rejects.push(...problems);
    if (problems.length === 0) {
      const subs = p.attributes.subscriptions;
      accepted.push({
        ...(p.attributes.email ? { email: p.attributes.email } : {}),
        ...(p.attributes.phone_number ? { phone_number: p.attributes.phone_number } : {}),
        channels: Object.keys(subs),
        ...(historical ? { consentedAt: (subs.email ?? subs.sms).marketing.consented_at } : {}),
        ...(typeof listId === 'string' ? { listId } : {}),
        historical,
        ...(typeof attributes.custom_source === 'string' ? { customSource: attributes.custom_source } : {}),
      });
    }
  });
  if (rejects.length > 0) return refuse(400, ...rejects);
  recorded.push(...accepted);
  return { status: 202, body: undefined };
}

/** [pointer suffix, detail] for each way one profile breaks the documented shape. */
function profileProblems(p: any, historical: boolean): Array<[string, string]> {
  if (p?.type !== 'profile') return [['/type', 'Expected type profile']];
  const subs = p.attributes?.subscriptions;
  if (typeof subs !== 'object' || subs === null || Object.keys(subs).length === 0) return [['/attributes/subscriptions', 'subscriptions is required']];
  const problems: Array<[string, string]> = [];
  for (const [channel, parameters] of Object.entries<any>(subs)) {
    const where = `/attributes/subscriptions/${channel}/marketing`;
    if (channel !== 'email' && channel !== 'sms') problems.push([`/attributes/subscriptions/${channel}`, `Unsupported channel ${channel}`]);
    else if (parameters?.marketing?.consent !== 'SUBSCRIBED') problems.push([`${where}/consent`, 'consent must be SUBSCRIBED']);
    else if (channel === 'email' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(p.attributes.email ?? '')) problems.push(['/attributes/email', 'A valid email is required to subscribe to email']);
    else if (channel === 'sms' && !/^\+[1-9]\d{6,14}$/.test(p.attributes.phone_number ?? '')) problems.push(['/attributes/phone_number', 'An E.164 phone number is required to subscribe to SMS']);
    const consentedAt = parameters?.marketing?.consented_at;
    if (!historical && consentedAt !== undefined) problems.push([`${where}/consented_at`, 'consented_at may only be given with historical_import']);
    if (historical && (typeof consentedAt !== 'string' || Number.isNaN(Date.parse(consentedAt)) || Date.parse(consentedAt) > Date.now())) {
      problems.push([`${where}/consented_at`, 'consented_at is required for a historical import and must be in the past']);
    }
  }
  return problems;
}
