/**
 * Config of a Salesforce Bulk API 2.0 destination. Credentials are either a connected app's
 * client credentials (`clientId` + `clientSecret`) or the JWT bearer flow (`clientId` + `username`
 * + `privateKey`). `clientSecret` and `privateKey` are secrets: masked in listings, sent only in
 * token request bodies (the key only as a signature), and never quoted by a message here.
 */
import { createPrivateKey } from 'node:crypto';
import { configSchema, f } from '../../src/manager/config-schema.ts';
import { fieldMappingProblem } from '../_bulk-csv/rows.ts';

/** Bulk API 2.0 takes up to 150 MB base64-encoded per upload; 100 MB of raw CSV is the documented guidance. */
export const SALESFORCE_MAX_FILE_BYTES = 100_000_000;

export const operations = ['insert', 'update', 'upsert', 'delete'] as const;

export const salesforceConfig = configSchema(
  {
    loginUrl: f.url({
      doc: 'Base of the OAuth token endpoint: "https://login.salesforce.com", "https://test.salesforce.com" (sandboxes) or your My Domain URL; tokens come from <loginUrl>/services/oauth2/token.',
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
    operation: f.oneOf(operations, { doc: '"insert", "update" (by Id), "upsert" (by "externalIdFieldName") or "delete" (by Id).' }),
    externalIdFieldName: f.string({ doc: 'External id field that matches records for "upsert"; must be a column of "fieldMapping".', optional: true }),
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
    const mappingProblem = fieldMappingProblem(config.fieldMapping);
    if (mappingProblem) return { field: 'fieldMapping', problem: mappingProblem };
    const columns = Object.values(config.fieldMapping);
    if (config.operation === 'upsert') {
      if (config.externalIdFieldName === undefined) return { field: 'externalIdFieldName', problem: 'is required for "upsert": Salesforce matches records on it' };
      if (!columns.includes(config.externalIdFieldName)) {
        return { field: 'externalIdFieldName', problem: 'must be one of the fields "fieldMapping" writes, so every row carries it' };
      }
    }
    if ((config.operation === 'update' || config.operation === 'delete') && !columns.includes('Id')) {
      return { field: 'fieldMapping', problem: `must write the "Id" field for "${config.operation}"` };
    }
    if (config.operation === 'delete' && columns.length !== 1) {
      return { field: 'fieldMapping', problem: 'must write only "Id" for "delete": Salesforce refuses other columns' };
    }
    return undefined;
  },
);

export type SalesforceConfig = ReturnType<typeof salesforceConfig.parse>;

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
