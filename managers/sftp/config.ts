/**
 * Config of an SFTP destination. Everything that can be judged without the server is judged here,
 * at start, so a bad entry disables its destination with a message naming the field instead of
 * failing every upload: a missing host key pin, a template that could escape the login directory
 * or collide between uploads, splitting without a {part} token. No message quotes a secret field.
 */
import { configSchema, f } from '../../src/manager/config-schema.ts';
import { templateProblem } from './path-template.ts';

export const sftpFormats = ['csv', 'ndjson'] as const;
export type SftpFormat = (typeof sftpFormats)[number];

/** A destination's parsed config; optional fields are `undefined` when not set. */
export interface SftpConfig {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password?: string;
  readonly privateKey?: string;
  readonly passphrase?: string;
  readonly hostKeySha256?: string;
  readonly insecureSkipHostKeyCheck: boolean;
  readonly pathTemplate: string;
  readonly format: SftpFormat;
  readonly columns?: readonly string[];
  readonly gzip: boolean;
  readonly maxRowsPerFile?: number;
  readonly maxBytesPerFile?: number;
  readonly atomicRename: boolean;
  readonly doneMarker: boolean;
  readonly connectTimeoutMs: number;
}

const fields = {
  host: f.string({ doc: 'SFTP server host name or IP address, e.g. "sftp.partner.example".' }),
  port: f.int({ doc: 'SSH port of the server.', default: 22, min: 1, max: 65_535 }),
  username: f.string({ doc: 'Account to log in as.' }),
  password: f.string({ doc: 'Password of the account; set this or "privateKey".', secret: true, optional: true }),
  privateKey: f.custom<string>(
    'string',
    { doc: 'Private key text (OpenSSH or PEM, the whole "-----BEGIN ... PRIVATE KEY-----" block); set this or "password".', secret: true, optional: true },
    checkPrivateKey,
  ),
  passphrase: f.string({ doc: 'Passphrase of an encrypted "privateKey".', secret: true, optional: true }),
  hostKeySha256: f.custom<string>(
    'string',
    { doc: 'Pinned host key fingerprint as `ssh-keygen -lf` prints it, e.g. "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s".', optional: true },
    checkFingerprint,
  ),
  insecureSkipHostKeyCheck: f.bool({
    doc: 'Accept any host key (no protection against a server impersonating the real one); only for tests. Required when "hostKeySha256" is not set.',
    default: false,
  }),
  pathTemplate: f.custom<string>(
    'string',
    {
      doc: 'Remote file path relative to the login directory, with tokens {destinationId} {uploadId} {YYYY} {MM} {DD} {hh} {mm} {ss} {timestampMs} {part}; must contain {uploadId}.',
    },
    templateProblem,
  ),
  format: f.oneOf(sftpFormats, {
    doc: '"csv": header row, nested objects flattened into dotted columns; "ndjson": one JSON object per line.',
    default: 'csv',
  }),
  columns: f.custom<string[]>(
    'array of strings',
    { doc: 'CSV only: the columns, in order (dotted names for nested fields); others are dropped. Default: every column, sorted.', optional: true },
    checkColumns,
  ),
  gzip: f.bool({ doc: 'Compress each file with gzip; ".gz" is appended to the name unless the template ends with it.', default: false }),
  maxRowsPerFile: f.int({ doc: 'Start a new part after this many rows (needs {part} in the template).', optional: true, min: 1 }),
  maxBytesPerFile: f.int({
    doc: 'Start a new part before a file would exceed this many bytes, before compression (needs {part}).',
    optional: true,
    min: 1,
  }),
  atomicRename: f.bool({
    doc: 'Upload to ".<name>.partial" and rename once complete; set false only for servers that cannot rename.',
    default: true,
  }),
  doneMarker: f.bool({ doc: 'After all parts, write "<first part>.done" listing the upload\'s files.', default: false }),
  connectTimeoutMs: f.int({ doc: 'Milliseconds to wait for the SSH handshake and login.', default: 20_000, min: 100, max: 600_000 }),
};

export const sftpConfig = configSchema<typeof fields, SftpConfig>(fields, crossFieldProblem);

/** Rules spanning fields; the first one broken is reported. */
function crossFieldProblem(config: SftpConfig): { field: string; problem: string } | undefined {
  if (config.password === undefined && config.privateKey === undefined) {
    return { field: 'password', problem: 'is required unless "privateKey" is set: give the account\'s password or a private key' };
  }
  if (config.passphrase !== undefined && config.privateKey === undefined) {
    return { field: 'passphrase', problem: 'is set but "privateKey" is not: add the key it unlocks, or remove it' };
  }
  if (config.hostKeySha256 === undefined && !config.insecureSkipHostKeyCheck) {
    return {
      field: 'hostKeySha256',
      problem:
        'is required: pin the server\'s host key with its fingerprint, e.g. from `ssh-keyscan -t ed25519 <host> | ssh-keygen -lf -` ' +
        '(write the "SHA256:..." part). Only for testing, "insecureSkipHostKeyCheck": true accepts any host key instead',
    };
  }
  if (config.hostKeySha256 !== undefined && config.insecureSkipHostKeyCheck) {
    return { field: 'insecureSkipHostKeyCheck', problem: 'must not be true while "hostKeySha256" pins the key: remove one of them' };
  }
  if (config.columns !== undefined && config.format !== 'csv') {
    return { field: 'columns', problem: 'applies only to "format": "csv": remove it, or switch the format to csv' };
  }
  if ((config.maxRowsPerFile !== undefined || config.maxBytesPerFile !== undefined) && !config.pathTemplate.includes('{part}')) {
    return {
      field: 'pathTemplate',
      problem: 'must contain {part} when "maxRowsPerFile" or "maxBytesPerFile" is set, or the parts of an upload would share one name',
    };
  }
  return undefined;
}

/** The value is a credential: the problems below describe it without ever quoting it. */
function checkPrivateKey(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string holding the private key text';
  if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(value)) {
    return 'must hold the whole private key text, starting with "-----BEGIN ... PRIVATE KEY-----" (not a file path); escape its line breaks as \\n in JSON';
  }
  return undefined;
}

/** `SHA256:` + 43 base64 characters (32 bytes, no padding), as `ssh-keygen -lf` prints it. */
function checkFingerprint(value: unknown): string | undefined {
  const example = '"SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"';
  if (typeof value !== 'string') return `must be a string such as ${example}`;
  if (!/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(value)) {
    return `must be a SHA-256 fingerprint as \`ssh-keygen -lf\` prints it, such as ${example} (MD5 "aa:bb:..." fingerprints are not accepted)`;
  }
  return undefined;
}

function checkColumns(value: unknown): string | undefined {
  if (!Array.isArray(value) || value.length === 0 || !value.every((c) => typeof c === 'string' && c !== '')) {
    return 'must be a non-empty array of column names such as ["id", "user.email"]';
  }
  const duplicate = value.find((c, i) => value.indexOf(c) !== i) as string | undefined;
  if (duplicate !== undefined) return `lists "${duplicate}" twice; each column may appear once`;
  return undefined;
}

/** The fingerprint without base64 padding, as ssh-keygen prints it; comparisons use this form. */
export function normaliseFingerprint(fingerprint: string): string {
  return fingerprint.replace(/=+$/, '');
}
