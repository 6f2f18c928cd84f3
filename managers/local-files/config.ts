/**
 * Config of a local-files destination, and the file-name template that names each upload's file.
 * The template is checked here, at start, so a bad one never reaches the disk.
 */
import { configSchema, f } from '../../src/manager/config-schema.ts';

export const localFileFormats = ['csv', 'ndjson'] as const;
export type LocalFileFormat = (typeof localFileFormats)[number];

export const templateTokens = ['destinationId', 'uploadId', 'timestampMs', 'ext'] as const;
export type TemplateToken = (typeof templateTokens)[number];

export const localFilesConfig = configSchema({
  directory: f.string({
    doc: 'Directory the files are written to, e.g. "/var/spool/batch-router/out"; created if missing. Relative paths are taken from the working directory.',
  }),
  format: f.oneOf(localFileFormats, {
    doc: '"ndjson" writes one JSON object per line; "csv" writes a header row and flattens nested objects into dotted columns.',
    default: 'ndjson',
  }),
  fileNameTemplate: f.custom<string>(
    'string',
    {
      doc: 'File name with tokens {destinationId} {uploadId} {timestampMs} {ext}; must contain {uploadId}.',
      default: '{destinationId}-{uploadId}.{ext}',
    },
    checkTemplate,
  ),
});

export type LocalFilesConfig = ReturnType<typeof localFilesConfig.parse>;

/**
 * A template must name one file inside `directory` (no separators, no `..`) and contain
 * `{uploadId}`, so that a retried upload rewrites its own file instead of adding a second one.
 */
function checkTemplate(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return 'must be a non-empty string such as "{destinationId}-{uploadId}.{ext}"';
  if (/[/\\]/.test(value) || value.includes('..')) {
    return 'must be a plain file name: remove "/", "\\" and ".." (files always go directly into "directory")';
  }
  if (value.includes('\0')) return 'must not contain a NUL character';
  if (value.startsWith('.')) return 'must not start with "." (hidden names are reserved for files still being written)';
  const unknownToken = [...value.matchAll(/\{([^}]*)\}/g)]
    .map((match) => match[1]!)
    .find((token) => !(templateTokens as readonly string[]).includes(token));
  if (unknownToken !== undefined) {
    return `has unknown token {${unknownToken}}; use only ${templateTokens.map((token) => `{${token}}`).join(' ')}`;
  }
  if (!value.includes('{uploadId}')) return 'must contain {uploadId} so a retried upload overwrites its own file';
  return undefined;
}

/**
 * The file name of one upload. Token values are percent-encoded where a file name could not hold
 * them, so an odd destination id can neither escape the directory nor collide with another.
 */
export function renderFileName(template: string, values: Record<TemplateToken, string>): string {
  return template.replace(/\{(destinationId|uploadId|timestampMs|ext)\}/g, (_match, token: TemplateToken) =>
    encodeURIComponent(values[token]),
  );
}
