/**
 * Logging: pino, JSON by default, human-readable with pino-pretty when asked or on a terminal.
 *
 * pino-pretty is a development dependency, loaded only when pretty logs are asked for: production
 * (the image) logs JSON and does not ship it. `auto` on a terminal without it falls back to JSON.
 *
 * Pretty printing runs in this thread through pino-pretty's `prettyFactory`, not a worker
 * transport: lines are written synchronously to the given destination, so tests can capture them
 * and nothing is lost when the process exits right after logging a fatal error.
 *
 * Secrets are kept out of logs two ways: `redact` censors secret-looking keys in logged objects,
 * and {@link redactText} scrubs known secret values out of free text (vendor error bodies echo
 * tokens more often than one would hope).
 */
import { createRequire } from 'node:module';
import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';
import type { prettyFactory as PrettyFactory } from 'pino-pretty';
import type { AppConfig } from './config.ts';

export type { Logger } from 'pino';

/** What a logger writes to: anything with a synchronous-enough `write(line)`. */
export type LogDestination = DestinationStream | NodeJS.WritableStream;

export const REDACTED = '[redacted]';

/** Key names whose values are never logged, wherever they appear (to the depth below). */
export const SECRET_KEYS: readonly string[] = Object.freeze([
  'password',
  'passphrase',
  'privateKey',
  'clientSecret',
  'client_secret',
  'apiKey',
  'api_key',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'authorization',
  'Authorization',
  'secret',
]);

/**
 * Redaction paths for {@link SECRET_KEYS}. pino's redaction has no "any depth" wildcard, so each
 * key is listed at depths 1 to 4 (`key`, `*.key`, `*.*.key`, `*.*.*.key`), which covers
 * `{ config: { auth: { password } } }` and `{ err: { response: { headers: { authorization } } } }`.
 */
export const REDACT_PATHS: readonly string[] = Object.freeze([
  ...SECRET_KEYS.flatMap((key) => ['', '*.', '*.*.', '*.*.*.'].map((prefix) => `${prefix}${key}`)),
  'headers.authorization',
  '*.headers.authorization',
  'headers["x-api-key"]',
  '*.headers["x-api-key"]',
]);

/**
 * Creates the root logger.
 *
 * @param config `logLevel` and `logFormat` from {@link AppConfig}; `auto` means pretty when stdout
 *   is a TTY (a person is watching) and JSON otherwise (a collector is reading).
 * @param destination where lines go; stdout when omitted. Tests pass a stream to capture output.
 */
export function createLogger(
  config: Pick<AppConfig, 'logLevel' | 'logFormat'>,
  destination?: LogDestination,
): Logger {
  const prettyFactory = config.logFormat === 'json' ? undefined : loadPrettyFactory(config.logFormat === 'pretty');
  const pretty = prettyFactory !== undefined && (config.logFormat === 'pretty' || process.stdout.isTTY === true);
  // Synchronous stdout: a crash right after a log line must not swallow it.
  const target: LogDestination = destination ?? pino.destination({ dest: 1, sync: true });
  const options = {
    level: config.logLevel,
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
  };
  if (!pretty || prettyFactory === undefined) return pino(options, target as DestinationStream);

  // Colours only on a real terminal: escape codes in a captured file or test buffer are noise.
  const colorize = destination === undefined && process.stdout.isTTY === true;
  const format = prettyFactory({ colorize, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
  const prettyStream: DestinationStream = {
    write(line: string) {
      target.write(format(line));
    },
  };
  return pino(options, prettyStream);
}

/** Thrown when pretty logs are asked for explicitly and pino-pretty is not installed. */
export class PrettyLogsUnavailableError extends Error {
  readonly code = 'pretty_logs_unavailable';
  constructor() {
    super(
      'BATCH_ROUTER_LOG_FORMAT=pretty needs the pino-pretty package, which production installs ' +
        '(npm ci --omit=dev, the image) leave out: set BATCH_ROUTER_LOG_FORMAT=json, or install the ' +
        'development dependencies with npm ci',
    );
    this.name = 'PrettyLogsUnavailableError';
  }
}

/**
 * pino-pretty, loaded synchronously (createLogger is synchronous and pino-pretty is CommonJS).
 * Missing: an error when pretty logs were asked for by name, undefined (JSON) for `auto`.
 */
function loadPrettyFactory(required: boolean): typeof PrettyFactory | undefined {
  try {
    return (createRequire(import.meta.url)('pino-pretty') as { prettyFactory: typeof PrettyFactory }).prettyFactory;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
    if (required) throw new PrettyLogsUnavailableError();
    return undefined;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Replaces every occurrence of each non-empty secret in `text` with "[redacted]". Longer secrets
 * are replaced first so a secret that contains a shorter one is not left half visible.
 */
export function redactText(text: string, secrets: readonly string[]): string {
  const unique = [...new Set(secrets.filter((secret) => typeof secret === 'string' && secret.length > 0))];
  if (unique.length === 0 || text.length === 0) return text;
  unique.sort((a, b) => b.length - a.length);
  return text.replace(new RegExp(unique.map(escapeRegExp).join('|'), 'g'), REDACTED);
}
