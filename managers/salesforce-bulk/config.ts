/**
 * Config of a Salesforce Bulk API 2.0 destination. Credentials are either a connected app's
 * client credentials (`clientId` + `clientSecret`) or the JWT bearer flow (`clientId` + `username`
 * + `privateKey`). `clientSecret` and `privateKey` are secrets: masked in listings, sent only in
 * token request bodies (the key only as a signature), and never quoted by a message here.
 */
import { createPrivateKey } from 'node:crypto';
import { configSchema, f } from '../../src/manager/config-schema.ts';
import { fieldMappingProblem } from '../_bulk-csv/rows.ts';

/**
 * "Upload Job Data": a job takes at most 150 MB of data *after* Salesforce base64-encodes it, which
 * grows it by a third, so the guide says to upload no more than 100 MB of CSV per job
 * (100,000,000 bytes encode to 133,333,336, under 150 MB).
 */
export const SALESFORCE_MAX_FILE_BYTES = 100_000_000;

export const operations = ['insert', 'update', 'upsert', 'delete', 'hardDelete'] as const;
export type Operation = (typeof operations)[number];

/** What happens to a job whose outcome Salesforce's results leave unconfirmed (see results.ts). */
export const unconfirmedPolicies = ['resend', 'abort'] as const;
export type UnconfirmedPolicy = (typeof unconfirmedPolicies)[number];

/** Hosts that serve every org's login but refuse the client credentials flow (it needs the org's My Domain). */
const SHARED_LOGIN_HOSTS = new Set(['login.salesforce.com', 'test.salesforce.com']);

export const salesforceConfig = configSchema(
  {
    loginUrl: f.url({
      doc: 'Base of the OAuth token endpoint; tokens come from <loginUrl>/services/oauth2/token. Client credentials: your My Domain URL ("https://acme.my.salesforce.com", sandbox "https://acme--dev.sandbox.my.salesforce.com"). JWT bearer: that, or "https://login.salesforce.com" / "https://test.salesforce.com".',
    }),
    audience: f.url({
      doc: 'JWT bearer flow only: the assertion\'s "aud" claim. "https://login.salesforce.com" for production, "https://test.salesforce.com" for sandboxes, or an Experience Cloud site URL. Default: "https://test.salesforce.com" when "loginUrl" is test.salesforce.com or a *.sandbox.my.salesforce.com My Domain, else "https://login.salesforce.com".',
      optional: true,
    }),
    clientId: f.string({ doc: 'Consumer key of the connected app.' }),
    clientSecret: f.string({
      doc: 'Consumer secret of the connected app, for the client credentials flow; write "${SF_CLIENT_SECRET}" to read it from the environment.',
      secret: true,
      optional: true,
    }),
    username: f.string({ doc: 'User the JWT bearer flow acts as (with "privateKey" instead of "clientSecret").', optional: true }),
    privateKey: f.custom<string>(
      'PEM string',
      { doc: 'PEM private key whose certificate is uploaded to the connected app, for the JWT bearer flow.', secret: true, optional: true },
      checkPrivateKey,
    ),
    apiVersion: f.custom<string>('string', { doc: 'REST API version such as "62.0".', default: '62.0' }, (value) =>
      typeof value === 'string' && /^\d{2,3}\.\d$/.test(value) ? undefined : 'must be a version such as "62.0"',
    ),
    object: f.string({ doc: 'Salesforce object the records go to, e.g. "Contact" or "Lead__c".' }),
    operation: f.oneOf(operations, {
      doc: '"insert", "update" (by Id), "upsert" (by "externalIdFieldName"), "delete" (by Id, to the recycle bin) or "hardDelete" (by Id, no recycle bin; needs the "Bulk API Hard Delete" permission).',
    }),
    externalIdFieldName: f.string({ doc: 'External id field that matches records for "upsert" (and only upsert); must be a column of "fieldMapping".', optional: true }),
    assignmentRuleId: f.custom<string>(
      'Salesforce id',
      { doc: 'Id (01Q...) of a Lead or Case assignment rule Salesforce runs on the records; for "object" Lead or Case, with insert, update or upsert.', optional: true },
      (value) => (typeof value === 'string' && /^01Q[0-9A-Za-z]{12}(?:[0-9A-Za-z]{3})?$/.test(value) ? undefined : 'must be a 15- or 18-character AssignmentRule id starting with "01Q"'),
    ),
    unconfirmedOutcome: f.oneOf(unconfirmedPolicies, {
      doc: 'What to do with a record whose outcome Salesforce\'s results leave unconfirmed (its totals and listed rows disagree, even after reading them again): "resend" it in a later job, or "abort" it with code outcome_unconfirmed. Default: "abort" for insert (sending again could create a duplicate), "resend" for the other operations (idempotent).',
      optional: true,
    }),
    resultReads: f.int({
      doc: 'How often the result files of a finished job are read, at most, until they add up to the job\'s totals (they can be incomplete right after JobComplete).',
      default: 3,
      min: 1,
      max: 10,
    }),
    resultRereadDelayMs: f.int({ doc: 'Milliseconds between two reads of the result files of one job.', default: 2_000, min: 0, max: 60_000 }),
    fieldMapping: f.stringMap({
      doc: 'Event field path → Salesforce field API name, e.g. {"traits.email": "Email", "traits.lastName": "LastName"}; the order is the CSV column order.',
    }),
    maxFileBytes: f.int({
      doc: `Largest CSV per ingest job in bytes; bigger uploads are split into several jobs. At most ${SALESFORCE_MAX_FILE_BYTES}.`,
      default: SALESFORCE_MAX_FILE_BYTES,
      min: 256,
      max: SALESFORCE_MAX_FILE_BYTES,
    }),
    timeoutMs: f.int({
      doc: 'Milliseconds one request to Salesforce may take (sending a 100 MB file included) before it is retried.',
      default: 300_000,
      min: 100,
      max: 900_000,
    }),
  },
  (config) => {
    if (config.clientSecret !== undefined && config.privateKey !== undefined) {
      return { field: 'privateKey', problem: 'and "clientSecret" are both set; keep one: "clientSecret" for client credentials, "username" + "privateKey" for the JWT bearer flow' };
    }
    if (config.privateKey !== undefined && config.username === undefined) {
      return { field: 'username', problem: 'is required with "privateKey": the JWT bearer flow acts as that user' };
    }
    if (config.clientSecret === undefined && config.privateKey === undefined) {
      return { field: 'clientSecret', problem: 'is required unless "username" and "privateKey" are set (JWT bearer flow)' };
    }
    if (config.clientSecret !== undefined && SHARED_LOGIN_HOSTS.has(new URL(config.loginUrl).hostname.toLowerCase())) {
      return {
        field: 'loginUrl',
        problem: 'must be your org\'s My Domain URL (e.g. "https://acme.my.salesforce.com", sandbox "https://acme--dev.sandbox.my.salesforce.com") for the client credentials flow: login.salesforce.com and test.salesforce.com refuse it',
      };
    }
    if (config.audience !== undefined && config.privateKey === undefined) {
      return { field: 'audience', problem: 'is only used by the JWT bearer flow ("username" + "privateKey"); remove it' };
    }
    const mappingProblem = fieldMappingProblem(config.fieldMapping);
    if (mappingProblem) return { field: 'fieldMapping', problem: mappingProblem };
    const columns = Object.values(config.fieldMapping);
    if (config.operation === 'upsert') {
      if (config.externalIdFieldName === undefined) return { field: 'externalIdFieldName', problem: 'is required for "upsert": Salesforce matches records on it' };
      if (!columns.includes(config.externalIdFieldName)) {
        return { field: 'externalIdFieldName', problem: 'must be one of the fields "fieldMapping" writes, so every row carries it' };
      }
    }
    if (config.operation !== 'upsert' && config.externalIdFieldName !== undefined) {
      return { field: 'externalIdFieldName', problem: `is only used by "upsert"; remove it for "${config.operation}"` };
    }
    if (config.operation !== 'insert' && config.operation !== 'upsert' && !columns.includes('Id')) {
      return { field: 'fieldMapping', problem: `must write the "Id" field for "${config.operation}"` };
    }
    if (isDelete(config.operation) && columns.length !== 1) {
      return { field: 'fieldMapping', problem: `must write only "Id" for "${config.operation}": Salesforce refuses other columns` };
    }
    if (config.assignmentRuleId !== undefined) {
      if (isDelete(config.operation)) return { field: 'assignmentRuleId', problem: `does not apply to "${config.operation}"; remove it` };
      if (!['lead', 'case'].includes(config.object.toLowerCase())) {
        return { field: 'assignmentRuleId', problem: 'applies only to the Lead and Case objects; remove it or change "object"' };
      }
    }
    return undefined;
  },
);

export type SalesforceConfig = ReturnType<typeof salesforceConfig.parse>;

const isDelete = (operation: Operation) => operation === 'delete' || operation === 'hardDelete';

/**
 * The policy for unconfirmed records: the configured one, else by operation. Insert is the one
 * operation that is not idempotent (a second insert makes a second record); update and upsert
 * write the same values again, delete and hardDelete leave the record deleted either way.
 */
export function unconfirmedPolicy(config: SalesforceConfig): UnconfirmedPolicy {
  return config.unconfirmedOutcome ?? (config.operation === 'insert' ? 'abort' : 'resend');
}

/** The JWT "aud" claim: configured, or derived from the login host (production vs sandbox). */
export function jwtAudience(config: SalesforceConfig): string {
  if (config.audience !== undefined) return config.audience.replace(/\/+$/, '');
  const host = new URL(config.loginUrl).hostname.toLowerCase();
  return host === 'test.salesforce.com' || host.endsWith('.sandbox.my.salesforce.com') ? 'https://test.salesforce.com' : 'https://login.salesforce.com';
}

/** The column every row must fill for the operation: the record's key. */
export function keyColumn(config: SalesforceConfig): string | undefined {
  if (config.operation === 'upsert') return config.externalIdFieldName;
  return config.operation === 'insert' ? undefined : 'Id';
}

function checkPrivateKey(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a PEM private key string ("-----BEGIN PRIVATE KEY-----...")';
  try {
    createPrivateKey(value);
    return undefined;
  } catch {
    // The key is deliberately not quoted, nor the parser's message, which may echo part of it.
    return 'is not a readable PEM private key; paste the whole key, BEGIN and END lines included, or read it from an environment variable';
  }
}
