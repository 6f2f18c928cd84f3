/**
 * Subscribe mode: event → one profile of a Bulk Subscribe Profiles request, with marketing consent
 * on each configured channel whose identifier the event has. Consent is a legal record, so
 * nothing is guessed: a missing identifier leaves its channel out, no channel at all is a bad
 * event, and a historical import needs a consent time that is a real instant in the past.
 */
import type { JsonObject, JsonValue } from '../../src/manager/contract.ts';
import { PermanentError } from '../../src/manager/errors.ts';
import type { KlaviyoConfig } from './config.ts';
import { readPath, type ProfileRow } from './profile.ts';

/** Where the identifiers are read from: the same profileMapping as import mode. */
function identifier(event: JsonObject, config: KlaviyoConfig, target: 'email' | 'phone_number'): string | undefined {
  for (const [path, mapped] of Object.entries(config.profileMapping)) {
    if (mapped !== target) continue;
    const value = readPath(event, path);
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
  }
  return undefined;
}

export function toSubscription(event: JsonObject, config: KlaviyoConfig): ProfileRow {
  const email = identifier(event, config, 'email');
  const phone = identifier(event, config, 'phone_number');
  const consent: Record<string, JsonValue> = { consent: 'SUBSCRIBED' };
  if (config.historicalImport) consent.consented_at = consentedAt(event, config.consentedAtPath!);
  const subscriptions: Record<string, JsonValue> = {};
  const attributes: Record<string, JsonValue> = {};
  if (config.consentChannels.includes('email') && email !== undefined) {
    attributes.email = email;
    subscriptions.email = { marketing: consent };
  }
  if (config.consentChannels.includes('sms') && phone !== undefined) {
    attributes.phone_number = phone;
    subscriptions.sms = { marketing: consent };
  }
  if (Object.keys(subscriptions).length === 0) {
    const wanted = config.consentChannels.map((c) => (c === 'email' ? 'email' : 'phone_number')).join(' or ');
    throw new PermanentError(`event has no ${wanted} after profileMapping; Klaviyo needs it to record consent on the channel`);
  }
  attributes.subscriptions = subscriptions;
  return { type: 'profile', attributes };
}

function consentedAt(event: JsonObject, path: string): string {
  const value = readPath(event, path);
  const time = typeof value === 'string' || typeof value === 'number' ? new Date(value) : undefined;
  if (!time || Number.isNaN(time.getTime())) {
    throw new PermanentError(`event field "${path}" must be the time consent was given (ISO 8601) for a historical import`);
  }
  if (time.getTime() > Date.now()) throw new PermanentError(`event field "${path}" is in the future; Klaviyo needs consent given in the past`);
  return time.toISOString();
}
