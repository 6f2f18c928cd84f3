/**
 * Config of a Marketo Bulk Lead Import destination. `clientSecret` is a secret: it is marked so
 * listings mask it, it travels only in the body of the token request, and no message here quotes it.
 */
import { configSchema, f } from '../../src/manager/config-schema.ts';
import { fieldMappingProblem } from '../_bulk-csv/rows.ts';

/** Marketo refuses import files of 10 MB or more; the default leaves room like RudderStack's 95 %. */
export const MARKETO_MAX_FILE_BYTES = 10_000_000;

export const marketoConfig = configSchema(
  {
    restEndpoint: f.url({
      doc: 'REST API endpoint exactly as shown in Admin > Web Services, e.g. "https://123-ABC-456.mktorest.com/rest"; the bulk API is called at the same host under /bulk/v1.',
    }),
    identityEndpoint: f.url({
      doc: 'Identity endpoint exactly as shown in Admin > Web Services, e.g. "https://123-ABC-456.mktorest.com/identity"; tokens come from <identityEndpoint>/oauth/token.',
    }),
    clientId: f.string({ doc: 'Client Id of the LaunchPoint custom service (Admin > LaunchPoint > View Details).' }),
    clientSecret: f.string({
      doc: 'Client Secret of the LaunchPoint custom service; write "${MARKETO_CLIENT_SECRET}" to read it from the environment.',
      secret: true,
    }),
    fieldMapping: f.stringMap({
      doc: 'Event field path → Marketo REST API field name, e.g. {"traits.email": "email", "traits.firstName": "firstName"}; the order is the CSV column order.',
    }),
    lookupField: f.string({
      doc: 'Marketo field that deduplicates leads (the import is insert-or-update); "id" makes it update-only. Must be a target of "fieldMapping".',
      default: 'email',
    }),
    listId: f.int({ doc: 'Id of a static list the imported leads are also added to.', optional: true, min: 1 }),
    partitionName: f.string({ doc: 'Lead partition to import into (workspaces with partitions).', optional: true }),
    maxFileBytes: f.int({
      doc: `Largest import file in bytes; bigger uploads are split into several imports. At most ${MARKETO_MAX_FILE_BYTES} (Marketo's 10 MB limit).`,
      default: 9_500_000,
      min: 256,
      max: MARKETO_MAX_FILE_BYTES,
    }),
    timeoutMs: f.int({
      doc: 'Milliseconds one request to Marketo may take (sending a 10 MB file included) before it is retried.',
      default: 120_000,
      min: 100,
      max: 600_000,
    }),
    queueFullRetryMs: f.int({
      doc: 'Milliseconds to wait before offering a batch again after Marketo answered 1016 "Too many imports" (its queue holds 10); no attempt is spent.',
      default: 60_000,
      min: 10,
      max: 3_600_000,
    }),
  },
  (config) => {
    if (!/\/rest$/.test(config.restEndpoint)) {
      return { field: 'restEndpoint', problem: 'must end with "/rest", as Admin > Web Services shows it, e.g. "https://123-ABC-456.mktorest.com/rest"' };
    }
    if (!/\/identity$/.test(config.identityEndpoint)) {
      return { field: 'identityEndpoint', problem: 'must end with "/identity", e.g. "https://123-ABC-456.mktorest.com/identity"' };
    }
    const mappingProblem = fieldMappingProblem(config.fieldMapping);
    if (mappingProblem) return { field: 'fieldMapping', problem: mappingProblem };
    if (!Object.values(config.fieldMapping).includes(config.lookupField)) {
      return {
        field: 'lookupField',
        problem: `must be one of the Marketo fields "fieldMapping" writes (${Object.values(config.fieldMapping).join(', ')}): Marketo matches leads on it`,
      };
    }
    return undefined;
  },
);

export type MarketoConfig = ReturnType<typeof marketoConfig.parse>;

/** `https://host/rest` → `https://host`: the bulk API is not under /rest. */
export function bulkBase(config: MarketoConfig): string {
  return config.restEndpoint.replace(/\/rest$/, '');
}
