/**
 * The three kinds of Marketo bulk import differ only in their endpoints, form fields and the name
 * of one status counter ("Bulk Lead Import", "Bulk Custom Object Import", "Bulk Program Member
 * Import"); everything else (CSV files, queue of 10, status values, result files) is the same.
 * The object and its target go into the import handle, so an import is followed at the endpoints
 * it was created at even if the config changed since.
 */
import type { MarketoConfig, MarketoObjectKind } from './config.ts';

/** Where an import lives: what it imports and, for custom objects and program members, into what. */
export interface ImportTarget {
  readonly object: MarketoObjectKind;
  /** Custom object API name, or program id as text; empty for leads. */
  readonly target: string;
}

export function targetOf(config: MarketoConfig): ImportTarget {
  if (config.object === 'customObject') return { object: 'customObject', target: config.customObjectApiName! };
  if (config.object === 'programMembers') return { object: 'programMembers', target: String(config.programId!) };
  return { object: 'leads', target: '' };
}

/** Words for messages: "leads", "car_c records", "members of program 1042". */
export function describeTarget({ object, target }: ImportTarget): string {
  if (object === 'customObject') return `${target} records`;
  if (object === 'programMembers') return `members of program ${target}`;
  return 'leads';
}

/** The endpoint that creates an import, with `format` also in the query as the documentation's examples send it. */
export function createPath({ object, target }: ImportTarget): string {
  const path = object === 'customObject'
    ? `/bulk/v1/customobjects/${encodeURIComponent(target)}/import.json`
    : object === 'programMembers'
      ? `/bulk/v1/program/${encodeURIComponent(target)}/members/import.json`
      : '/bulk/v1/leads.json';
  return `${path}?format=csv`;
}

/** The form fields sent beside the file, in order. */
export function formFields(config: MarketoConfig): Array<[string, string]> {
  const fields: Array<[string, string]> = [['format', 'csv']];
  if (config.object === 'leads') {
    fields.push(['lookupField', config.lookupField]);
    if (config.listId !== undefined) fields.push(['listId', String(config.listId)]);
    if (config.partitionName !== undefined) fields.push(['partitionName', config.partitionName]);
  }
  if (config.object === 'programMembers') fields.push(['programMemberStatus', config.programMemberStatus!]);
  return fields;
}

/** The config field a 1013 "Object not found" on creation points at. */
export function objectFieldOf(config: MarketoConfig): string | undefined {
  if (config.object === 'customObject') return 'customObjectApiName';
  if (config.object === 'programMembers') return 'programId';
  return config.listId !== undefined ? 'listId' : undefined;
}

/** Status and result-file endpoints of an import. */
export function importPaths({ object, target }: ImportTarget, batchId: number) {
  const id = encodeURIComponent(batchId);
  const base = object === 'customObject'
    ? `/bulk/v1/customobjects/${encodeURIComponent(target)}/import/${id}`
    : object === 'programMembers'
      ? `/bulk/v1/program/members/import/${id}`
      : `/bulk/v1/leads/batch/${id}`;
  return {
    status: object === 'leads' ? `${base}.json` : `${base}/status.json`,
    file: (kind: 'failures' | 'warnings') => `${base}/${kind}.json`,
    /** Custom object imports count `numOfObjectsProcessed`; the others `numOfLeadsProcessed`. */
    processedField: object === 'customObject' ? 'numOfObjectsProcessed' : 'numOfLeadsProcessed',
  };
}
