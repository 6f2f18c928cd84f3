/**
 * Remote path templates such as `drops/{YYYY}-{MM}-{DD}/events-{uploadId}-{part}.csv`, and the
 * names derived from them for one upload. Every name (parts, their temporary names, the `.done`
 * marker) is a pure function of the template, the upload id and the upload's creation time, so a
 * retried upload maps onto exactly the files the earlier attempt wrote.
 */
import { posix } from 'node:path';
import { ConfigError } from '../../src/manager/errors.ts';

export const pathTokens = ['destinationId', 'uploadId', 'YYYY', 'MM', 'DD', 'hh', 'mm', 'ss', 'timestampMs', 'part'] as const;
export type PathToken = (typeof pathTokens)[number];

/** What a template is rendered from; `createdAt` is the upload's first creation, not this attempt. */
export interface UploadIdentity {
  readonly destinationId: string;
  readonly uploadId: string;
  readonly createdAt: number;
}

const TOKEN = /\{([^{}]*)\}/g;
const EXAMPLE = '"drops/{YYYY}-{MM}-{DD}/events-{uploadId}-{part}.csv"';
/** Values used to render a template at validation time, to catch what only shows after rendering. */
const SAMPLE: UploadIdentity = { destinationId: 'dest', uploadId: '1', createdAt: Date.UTC(2024, 0, 31, 23, 59, 58) };

/** Why `value` is not a usable template, or undefined when it is. Called by the config schema. */
export function templateProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') return `must be a non-empty string such as ${EXAMPLE}`;
  if (value.includes('\0')) return 'must not contain a NUL character';
  if (value.includes('\\')) return 'must separate directories with "/", not "\\"';
  const unknown = [...value.matchAll(TOKEN)].map((m) => m[1]!).find((t) => !(pathTokens as readonly string[]).includes(t));
  if (unknown !== undefined) return `has unknown token {${unknown}}; use only ${pathTokens.map((t) => `{${t}}`).join(' ')}`;
  if (!value.includes('{uploadId}')) {
    return 'must contain {uploadId}: it keeps two uploads from writing the same file and lets a retry find its own files';
  }
  const segments = value.split('/');
  if (segments.slice(0, -1).some((s) => s.includes('{part}'))) {
    return 'may use {part} only in the file name (after the last "/"), so all parts of an upload share one directory';
  }
  if (segments.at(-1)!.startsWith('.')) return 'must not name a file starting with "." (reserved for files still being uploaded)';
  // Checked on the rendered path too, so a token can never produce what the literal text may not.
  return escapeProblem(value) ?? escapeProblem(renderTemplate(value, SAMPLE, '1'));
}

/**
 * A path that could leave the login directory the server puts us in: absolute, home-relative,
 * or with "." / ".." / empty segments (empty ones would let a later join collapse into "/").
 */
function escapeProblem(path: string): string | undefined {
  if (path.startsWith('/') || path.startsWith('~')) {
    return 'must be relative to the SFTP login directory: remove the leading "/" or "~" (files must stay under that directory)';
  }
  const segments = path.split('/');
  if (segments.some((s) => s === '..' || s === '.')) return 'must not contain "." or ".." path segments: files must stay under the login directory';
  if (segments.some((s) => s === '')) return 'must not contain empty path segments ("//" or a trailing "/")';
  return undefined;
}

/** The template with every token replaced; token values are percent-encoded so none holds a "/". */
export function renderTemplate(template: string, identity: UploadIdentity, part: string): string {
  const at = new Date(identity.createdAt);
  const two = (n: number) => String(n).padStart(2, '0');
  const values: Record<PathToken, string> = {
    destinationId: encodeURIComponent(identity.destinationId),
    uploadId: encodeURIComponent(identity.uploadId),
    // UTC, so the same upload renders the same path on every host whatever its time zone.
    YYYY: String(at.getUTCFullYear()).padStart(4, '0'),
    MM: two(at.getUTCMonth() + 1),
    DD: two(at.getUTCDate()),
    hh: two(at.getUTCHours()),
    mm: two(at.getUTCMinutes()),
    ss: two(at.getUTCSeconds()),
    timestampMs: String(identity.createdAt),
    part,
  };
  return template.replace(TOKEN, (match, token: string) => values[token as PathToken] ?? match);
}

/** The remote names of one upload. */
export interface UploadNames {
  /** Directory of every file of the upload, relative to the login directory ("." for itself). */
  readonly dir: string;
  /** Final path of part `n` (1-based). */
  partPath(n: number): string;
  /** Where the `.done` marker goes: the first part's path plus ".done". */
  readonly markerPath: string;
  /** True for a final name of this upload in `dir` (any part number, or its marker). */
  isOwnFile(fileName: string): boolean;
  /** True for a temporary name this upload (any part, or its marker) may have left behind. */
  isOwnPartial(fileName: string): boolean;
}

/** The hidden name a file is written under before it is renamed into place. */
export function partialPath(finalPath: string): string {
  const dir = posix.dirname(finalPath);
  const partial = `.${posix.basename(finalPath)}.partial`;
  return dir === '.' ? partial : `${dir}/${partial}`;
}

/** Names of one upload. `gzip` appends ".gz" unless the template already ends with it. */
export function uploadNames(template: string, identity: UploadIdentity, gzip: boolean): UploadNames {
  const suffix = gzip && !template.endsWith('.gz') ? '.gz' : '';
  const partPath = (n: number) => {
    const path = renderTemplate(template, identity, String(n)) + suffix;
    const problem = escapeProblem(path);
    // Unreachable for a validated template; kept so an odd id can never write outside the root.
    if (problem) throw new ConfigError(`field "pathTemplate" rendered to "${path}", which ${problem}`, { field: 'pathTemplate' });
    return path;
  };
  const first = partPath(1);
  const markerPath = `${first}.done`;
  // Temporary names of any part number: the part count may differ if the config changed in between.
  // NUL marks where the part number goes: no template or percent-encoded value can contain one.
  const anyPart = posix.basename(renderTemplate(template, identity, '\0') + suffix);
  const ownName = new RegExp(`^${anyPart.split('\0').map(escapeRegExp).join('\\d+')}(\\.done)?$`);
  return {
    dir: posix.dirname(first),
    partPath,
    markerPath,
    isOwnFile: (fileName) => ownName.test(fileName),
    isOwnPartial: (fileName) => fileName.startsWith('.') && fileName.endsWith('.partial') && ownName.test(fileName.slice(1, -'.partial'.length)),
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
