/**
 * What the Klaviyo fake checks on every request before looking at its route, each from Klaviyo's
 * documentation: the private-key Authorization scheme, the required `revision` header (a released
 * revision; a retired one answers 410 Gone as the versioning policy says), and the JSON:API media
 * type of a body.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { refuse, type FakeReply } from './klaviyo-fake-errors.ts';

export const MEDIA_TYPE = 'application/vnd.api+json';

/**
 * Revisions Klaviyo has released (one per quarter, plus a few early ones), oldest first. A
 * revision header must name one of them, optionally with a `.pre`-style suffix.
 */
export const RELEASED_REVISIONS = [
  '2023-02-22', '2023-06-15', '2023-07-15', '2023-09-15', '2023-10-15', '2023-12-15',
  '2024-02-15', '2024-05-15', '2024-06-15', '2024-07-15', '2024-10-15',
  '2025-01-15', '2025-04-15', '2025-07-15', '2025-10-15',
  '2026-01-15', '2026-04-15', '2026-07-15', '2026-10-15',
] as const;

/**
 * Revisions retire two years after release ("API versioning and deprecation policy"); as of the
 * fake's reference date (October 2026) every 2022–2024 revision is retired.
 */
export const DEFAULT_RETIRED_BEFORE = '2025-01-01';

export interface ProtocolOptions {
  apiKey: string;
  /** Revisions released before this date answer 410 Gone. */
  retiredBefore: string;
}

/** The refusal for a request that breaks the protocol, or undefined when it may proceed. */
export function checkProtocol(method: string, headers: IncomingHttpHeaders, options: ProtocolOptions): FakeReply | undefined {
  if (headers.authorization !== `Klaviyo-API-Key ${options.apiKey}`) {
    return refuse(401, { code: 'not_authenticated', detail: 'Incorrect authentication credentials.' });
  }
  const revision = headers.revision;
  if (typeof revision !== 'string' || revision === '') {
    return refuse(400, { code: 'invalid', detail: 'A revision header is required.', parameter: 'revision' });
  }
  const date = /^(\d{4}-\d{2}-\d{2})(?:\.[a-z0-9-]+)?$/.exec(revision)?.[1];
  if (!date || !(RELEASED_REVISIONS as readonly string[]).includes(date)) {
    return refuse(400, { code: 'invalid', detail: `Invalid revision header: ${revision} is not a valid revision.`, parameter: 'revision' });
  }
  if (date < options.retiredBefore) {
    return refuse(410, { code: 'gone', detail: `Revision ${revision} has been retired; use a supported revision.`, parameter: 'revision' });
  }
  if (method === 'POST' && headers['content-type']?.split(';')[0]?.trim() !== MEDIA_TYPE) {
    return refuse(415, { code: 'unsupported_media_type', detail: `Unsupported media type "${headers['content-type'] ?? ''}"; use ${MEDIA_TYPE}.` });
  }
  return undefined;
}
