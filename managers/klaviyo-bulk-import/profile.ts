/**
 * Event → Klaviyo profile resource, and the identity key that ties a profile back to its job.
 *
 * The key is what Klaviyo echoes: an import error carries the profile as submitted
 * (`original_payload`), so the external id, email or phone number in it finds the job again after
 * a restart, when nothing but the key persisted with the job is left.
 */
import type { JsonObject, JsonValue } from '../../src/manager/contract.ts';
import { PermanentError } from '../../src/manager/errors.ts';
import { IDENTIFIERS, type KlaviyoConfig } from './config.ts';

/** One profile as it appears in `data.attributes.profiles.data[]`. */
export interface ProfileRow extends JsonObject {
  type: 'profile';
  attributes: JsonObject;
}

/**
 * Klaviyo rejects a profile above this size. Its reference gives 100 KB per profile (RudderStack
 * allows 500 kB); the stricter, decimal reading is used so a profile we accept is never one
 * Klaviyo refuses for size.
 */
export const MAX_PROFILE_BYTES = 100_000;

/** Attributes Klaviyo takes as text; a number (a numeric user id) is written as its digits. */
const TEXT_ATTRIBUTES = new Set(['email', 'phone_number', 'external_id', 'first_name', 'last_name', 'organization', 'locale', 'title', 'image']);

/** Builds the profile for one event. Pure: the same event and config always give the same row. */
export function toProfile(event: JsonObject, config: KlaviyoConfig): ProfileRow {
  const attributes: Record<string, JsonValue> = {};
  const location: Record<string, JsonValue> = {};
  let properties: Record<string, JsonValue> = {};
  // Whole-object `properties` first, so "properties.x" entries add to it whatever the key order.
  const entries = Object.entries(config.profileMapping).sort(([, a], [, b]) => Number(b === 'properties') - Number(a === 'properties'));
  for (const [path, target] of entries) {
    const value = readPath(event, path);
    if (value === undefined || value === null || value === '') continue; // Klaviyo cannot clear a field in a bulk import
    if (target === 'properties') {
      if (typeof value !== 'object' || Array.isArray(value)) throw new PermanentError(`event field "${path}" must be an object to become the profile's properties`);
      properties = { ...value };
    } else if (target.startsWith('properties.')) {
      properties[target.slice('properties.'.length)] = value;
    } else if (target.startsWith('location.')) {
      if (typeof value === 'object') throw new PermanentError(`event field "${path}" must be a string or number for ${target}`);
      location[target.slice('location.'.length)] = value;
    } else if (TEXT_ATTRIBUTES.has(target)) {
      if (typeof value !== 'string' && typeof value !== 'number') throw new PermanentError(`event field "${path}" must be a string for ${target}`);
      attributes[target] = String(value);
    }
  }
  if (!IDENTIFIERS.some((id) => attributes[id] !== undefined)) {
    throw new PermanentError(`event has no ${IDENTIFIERS.join(', ')} after profileMapping; Klaviyo needs one to identify the profile`);
  }
  if (Object.keys(location).length > 0) attributes.location = location;
  if (Object.keys(properties).length > 0) attributes.properties = properties;
  const row: ProfileRow = { type: 'profile', attributes };
  const bytes = Buffer.byteLength(JSON.stringify(row));
  if (bytes > MAX_PROFILE_BYTES) {
    throw new PermanentError(`profile is ${bytes} bytes; Klaviyo accepts at most ${MAX_PROFILE_BYTES} bytes per profile in a bulk import`);
  }
  return row;
}

/** The correlation key of a profile: its first identifier, as `external_id:…`, `email:…` or `phone_number:…`. */
export function identityKey(attributes: JsonObject): string | undefined {
  return identityKeys(attributes)[0];
}

/**
 * Every identifier of a profile as keys, in preference order. Emails compare case-insensitively
 * (Klaviyo may echo them normalised); the others exactly.
 */
export function identityKeys(attributes: unknown): string[] {
  if (typeof attributes !== 'object' || attributes === null) return [];
  const record = attributes as Record<string, unknown>;
  const keys: string[] = [];
  for (const id of IDENTIFIERS) {
    const value = record[id];
    if (typeof value !== 'string' && typeof value !== 'number') continue;
    const text = String(value).trim();
    if (text !== '') keys.push(`${id}:${id === 'email' ? text.toLowerCase() : text}`);
  }
  return keys;
}

/** `a.b.0.c` in an event; numeric segments index arrays. Undefined when any step is missing. */
export function readPath(event: JsonObject, path: string): JsonValue | undefined {
  let current: JsonValue | undefined = event;
  for (const part of path.split('.')) {
    if (Array.isArray(current)) current = /^\d+$/.test(part) ? current[Number(part)] : undefined;
    else if (typeof current === 'object' && current !== null) current = Object.hasOwn(current, part) ? current[part] : undefined;
    else return undefined;
    if (current === undefined) return undefined;
  }
  return current;
}
