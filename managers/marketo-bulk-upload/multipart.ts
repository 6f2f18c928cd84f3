/**
 * The multipart/form-data body of an import, built here rather than by FormData so its exact
 * size is known before the file is cut: Marketo's 10 MB limit is on the whole request (413 above
 * it), so the file part may only have what the envelope leaves. The file itself is streamed from
 * disk (a file-backed Blob between two small strings), never held in memory.
 */
import { randomBytes } from 'node:crypto';
import { openAsBlob } from 'node:fs';

/** `----batch-router-` and 24 hex digits: always the same length, so the envelope size is known ahead. */
const newBoundary = () => `----batch-router-${randomBytes(12).toString('hex')}`;
const BOUNDARY_SAMPLE = `----batch-router-${'0'.repeat(24)}`;

/** Field values and file names must not break the envelope (RFC 7578 uses quoted names). */
const quoted = (text: string) => text.replace(/[\r\n"]/g, '_');

function envelope(boundary: string, fields: ReadonlyArray<[string, string]>, fileName: string): { head: string; tail: string } {
  const head = fields.map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(name)}"\r\n\r\n${value}\r\n`).join('')
    + `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quoted(fileName)}"\r\nContent-Type: text/csv\r\n\r\n`;
  return { head, tail: `\r\n--${boundary}--\r\n` };
}

/** Bytes the envelope adds to a file with these fields and this name. */
export function envelopeBytes(fields: ReadonlyArray<[string, string]>, fileName: string): number {
  const { head, tail } = envelope(BOUNDARY_SAMPLE, fields, fileName);
  return Buffer.byteLength(head) + Buffer.byteLength(tail);
}

/** The request body for `fields` and the CSV file at `path`, with its content type. */
export async function multipartBody(fields: ReadonlyArray<[string, string]>, fileName: string, path: string): Promise<{ body: Blob; contentType: string }> {
  const boundary = newBoundary();
  const { head, tail } = envelope(boundary, fields, fileName);
  return { body: new Blob([head, await openAsBlob(path), tail]), contentType: `multipart/form-data; boundary=${boundary}` };
}
