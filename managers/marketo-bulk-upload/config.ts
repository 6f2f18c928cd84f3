/**
 * Config of a Marketo Bulk Lead Import destination. `clientSecret` is a secret: it is marked so
 * listings mask it, it travels only in the body of the token request, and no message here quotes it.
 */
import { configSchema, f } from '../../src/manager/config-schema.ts';
import { fieldMappingProblem } from '../_bulk-csv/rows.ts';

/**
 * Marketo answers 413 when an import request is over 10 MB ("Error Codes", HTTP-level): the limit
 * is on the whole multipart body, so the file gets what the envelope leaves (upload.ts).
 */
export const MARKETO_MAX_REQUEST_BYTES = 10_000_000;

/** What one destination imports; each has its own endpoints and required fields. */
export const MARKETO_OBJECTS = ['leads', 'customObject', 'programMembers'] as const;
export type MarketoObjectKind = (typeof MARKETO_OBJECTS)[number];

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
    object: f.oneOf(MARKETO_OBJECTS, {
      doc: 'What the import creates or updates: "leads" (Bulk Lead Import), "customObject" (Bulk Custom Object Import, needs "customObjectApiName") or "programMembers" (Bulk Program Member Import, needs "programId" and "programMemberStatus").',
      default: 'leads',
    }),
    customObjectApiName: f.string({ doc: 'API name of the custom object for object "customObject", e.g. "car_c" (Admin > Marketo Custom Objects).', optional: true }),
    programId: f.int({ doc: 'Id of the program the members are added to, for object "programMembers".', optional: true, min: 1 }),
    programMemberStatus: f.string({ doc: 'Program status given to imported members, for object "programMembers", e.g. "Registered" (one of the program channel\'s statuses).', optional: true }),
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
      doc: `Largest import file in bytes; bigger uploads are split into several imports. The file and its multipart envelope together stay within Marketo's limit of ${MARKETO_MAX_REQUEST_BYTES} bytes per request, so the file may get a few hundred bytes less.`,
      default: 9_500_000,
      min: 256,
      max: MARKETO_MAX_REQUEST_BYTES,
    }),
    unconfirmedRows: f.oneOf(['resend', 'abort'] as const, {
      doc: 'What happens to jobs whose outcome Marketo\'s results leave unknown (its totals and its result files disagree): "resend" retries them (safe: every Marketo bulk import is insert-or-update), "abort" ends them aborted with code outcome_unconfirmed.',
      default: 'resend',
    }),
    resultRereads: f.int({
      doc: 'Times the result files are read again (one poll interval apart) while they do not add up to the totals Marketo reports, before "unconfirmedRows" decides.',
      default: 3,
      min: 0,
      max: 20,
    }),
    timeoutMs: f.int({
      doc: 'Milliseconds one request to Marketo may take (sending a 10 MB file included) before it is retried.',
      default: 120_000,
      min: 100,
      max: 600_000,
    }),
    queueFullRetryMs: f.int({
      doc: 'Milliseconds to wait before offering a batch again after Marketo answered 1016 "Too many imports" (its queue holds 10), 1019 "Import in progress" or 1029; no attempt is spent.',
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
    const objectProblem = objectFieldsProblem(config);
    if (objectProblem) return objectProblem;
    if (config.object === 'leads' && !Object.values(config.fieldMapping).includes(config.lookupField)) {
      return {
        field: 'lookupField',
        problem: `must be one of the Marketo fields "fieldMapping" writes (${Object.values(config.fieldMapping).join(', ')}): Marketo matches leads on it`,
      };
    }
    return undefined;
  },
);

export type MarketoConfig = ReturnType<typeof marketoConfig.parse>;

/** The fields each object needs beside the common ones, named with the fix. */
function objectFieldsProblem(config: {
  object: MarketoObjectKind;
  customObjectApiName?: string | undefined;
  programId?: number | undefined;
  programMemberStatus?: string | undefined;
  fieldMapping: Record<string, string>;
}): { field: string; problem: string } | undefined {
  if (config.object === 'customObject' && !config.customObjectApiName?.trim()) {
    return { field: 'customObjectApiName', problem: 'is required for object "customObject": write the API name of the custom object, e.g. "car_c"' };
  }
  if (config.object === 'programMembers') {
    if (config.programId === undefined) return { field: 'programId', problem: 'is required for object "programMembers": write the id of the program, e.g. 1042' };
    if (!config.programMemberStatus?.trim()) {
      return { field: 'programMemberStatus', problem: 'is required for object "programMembers": write the status members get, e.g. "Registered"' };
    }
    if (!Object.values(config.fieldMapping).includes('email')) {
      return { field: 'fieldMapping', problem: 'must write the "email" column for object "programMembers": Marketo matches members on it' };
    }
  }
  return undefined;
}

/** The column every row needs a value for: the lead lookup field, or a member's email. */
export function requiredColumns(config: MarketoConfig): string[] {
  if (config.object === 'leads') return [config.lookupField];
  if (config.object === 'programMembers') return ['email'];
  return [];
}

/** `https://host/rest` → `https://host`: the bulk API is not under /rest. */
export function bulkBase(config: MarketoConfig): string {
  return config.restEndpoint.replace(/\/rest$/, '');
}
