/**
 * How the Marketo fake reads an import file and writes result files, the way Marketo does:
 * the header is matched to its fields without regard to case and written back in the field's own
 * case (`EMAIL` comes back as `email`), values are stored trimmed and come back trimmed, every
 * cell of a result file is quoted, and result rows come in Marketo's order, not the file's.
 */
import { parse } from 'csv-parse/sync';

/** Standard lead fields the fake knows by their REST API names; any other column is taken as a custom field as written. */
const KNOWN_FIELDS = ['id', 'email', 'firstName', 'lastName', 'company', 'title', 'phone', 'city', 'country', 'leadSource', 'cookie', 'sfdcLeadId'];

/** The field name Marketo writes for a header cell: its canonical case when known, else as sent (trimmed). */
export function canonicalField(name: string): string {
  const trimmed = name.trim();
  return KNOWN_FIELDS.find((field) => field.toLowerCase() === trimmed.toLowerCase()) ?? trimmed;
}

/** Delimiters of the documented formats. */
const DELIMITERS: Record<string, string> = { csv: ',', tsv: '\t', ssv: ';' };

export function isFormat(format: string): boolean {
  return Object.hasOwn(DELIMITERS, format.toLowerCase());
}

/** Header (canonical names) and rows (values trimmed) of an import file. */
export function readImportFile(text: Buffer, format: string): { header: string[]; rows: string[][] } {
  const records = parse(text, { delimiter: DELIMITERS[format.toLowerCase()], relax_column_count: true, bom: true }) as string[][];
  const [header = [], ...rows] = records;
  return { header: header.map(canonicalField), rows: rows.map((row) => row.map((cell) => cell.trim())) };
}

/** A result file as Marketo writes it: every cell quoted, reason column last. */
export function resultFile(header: readonly string[], reasonColumn: string, rows: readonly string[][]): string {
  const quote = (cell: string) => `"${cell.replace(/"/g, '""')}"`;
  return [[...header, reasonColumn], ...rows].map((cells) => cells.map(quote).join(',')).join('\n') + '\n';
}
