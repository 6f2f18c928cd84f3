/**
 * What an SFTP failure means for the router. Login and host key problems are the destination's
 * config (ConfigError: its jobs are aborted with the reason); a server that refuses a path, a
 * permission or space will refuse it again (PermanentError, with the server's own message);
 * network trouble is retried (RetryableError). Messages never include credentials: ssh2 does not
 * echo them, and nothing here quotes a secret field.
 */
import { ConfigError, PermanentError, RetryableError, RouterError, toError } from '../../../src/manager/errors.ts';
import { normaliseFingerprint, type SftpConfig } from '../config.ts';

/** The host key the server showed during the handshake. */
export interface PresentedHostKey {
  readonly fingerprint: string;
  readonly type: string;
}

/** SFTP status codes (draft-ietf-secsh-filexfer-02, plus 14/15 from later drafts some servers send). */
const SFTP = { NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, OP_UNSUPPORTED: 8, NO_SPACE: 14, QUOTA_EXCEEDED: 15 } as const;

/** Transient by nature: sockets, DNS, timeouts. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** How ssh2 and ssh2-sftp-client word a connection that went away mid-call. */
const LOST_MESSAGE = /No response from server|Unexpected (close|end) event|No SFTP connection|Keepalive timeout|Timed out|socket hang up|ECONNRESET|Connection lost/i;

/**
 * The connection broke (or was never there) while a call was in flight. Retryable, and the one
 * failure an upload answers by reconnecting at once: what it was doing can simply be done again.
 */
export class ConnectionLostError extends RetryableError {}

type WithCode = Error & { code?: unknown; level?: string };

/** A failed connect or login. */
export function connectFailure(
  thrown: unknown,
  at: { target: string; config: SftpConfig; presented: PresentedHostKey | undefined; signal: AbortSignal; level: string | undefined },
): RouterError {
  const error = toError(thrown) as WithCode;
  const { target, config, presented } = at;
  if (at.signal.aborted) return new RetryableError(`connecting to ${target} was cancelled (shutdown or upload deadline)`, { cause: error });
  if (config.hostKeySha256 !== undefined && presented && presented.fingerprint !== normaliseFingerprint(config.hostKeySha256)) {
    return new ConfigError(
      `host key of ${target} does not match "hostKeySha256": expected ${config.hostKeySha256}, received ${presented.fingerprint} ` +
        `(${presented.type}). If the server's key was changed on purpose, pin the new fingerprint; otherwise the connection may be intercepted`,
      { field: 'hostKeySha256', cause: error },
    );
  }
  if (at.level === 'client-authentication' || /authentication methods failed/i.test(error.message)) {
    const field = config.privateKey !== undefined ? 'privateKey' : 'password';
    return new ConfigError(
      `login to ${target} as "${config.username}" was refused (${serverText(error)}): check "username" and "${field}"`,
      { field, cause: error },
    );
  }
  if (/privateKey|passphrase|decrypt/i.test(error.message)) {
    const field = config.passphrase !== undefined || /passphrase|encrypted/i.test(error.message) ? 'passphrase' : 'privateKey';
    return new ConfigError(`"privateKey" cannot be used (${serverText(error)}): check "privateKey" and "passphrase"`, { field, cause: error });
  }
  return new ConnectionLostError(`cannot connect to ${target}: ${serverText(error)}`, { cause: error });
}

/**
 * A failed file operation. `lost` says whether the connection dropped meanwhile; `what` says what
 * was being done ("writing drops/a.csv") and leads the message.
 */
export function transferFailure(thrown: unknown, what: string, at: { lost: boolean; signal: AbortSignal }): RouterError {
  if (thrown instanceof RouterError) return thrown;
  const error = toError(thrown) as WithCode;
  const text = serverText(error);
  if (at.signal.aborted) return new RetryableError(`${what} was cancelled (shutdown or upload deadline)`, { cause: error });
  const code = error.code;
  if (code === SFTP.PERMISSION_DENIED || code === 'EACCES' || /permission denied/i.test(text)) {
    return new PermanentError(`${what} failed: permission denied (server: ${text}); grant the account access or change "pathTemplate"`, { cause: error });
  }
  if (code === SFTP.NO_SPACE || code === SFTP.QUOTA_EXCEEDED || /no space|quota|disk full|ENOSPC|EDQUOT/i.test(text)) {
    return new PermanentError(`${what} failed: the server is out of space or over quota (server: ${text})`, { cause: error });
  }
  if (code === SFTP.NO_SUCH_FILE || code === 'ENOENT' || code === 'ERR_BAD_PATH' || /no such file/i.test(text)) {
    return new PermanentError(`${what} failed: no such path (server: ${text}); check "pathTemplate" and the account's directory`, { cause: error });
  }
  if (code === SFTP.OP_UNSUPPORTED) return new PermanentError(`${what} failed: the server does not support it (server: ${text})`, { cause: error });
  if (at.lost || (typeof code === 'string' && NETWORK_CODES.has(code)) || LOST_MESSAGE.test(text)) {
    return new ConnectionLostError(`${what} failed: connection lost (${text})`, { cause: error });
  }
  return new RetryableError(`${what} failed: ${text}`, { cause: error });
}

/**
 * A rename the server refused right after it accepted the write in the same directory: almost
 * always a server that cannot rename, which a retry will not change, so the fix is named.
 */
export function renameFailure(thrown: unknown, from: string, to: string, at: { lost: boolean; signal: AbortSignal }): RouterError {
  const mapped = transferFailure(thrown, `renaming ${from} to ${to}`, at);
  const unsupported = (toError(thrown) as WithCode).code === SFTP.OP_UNSUPPORTED;
  const generic = mapped instanceof RetryableError && !(mapped instanceof ConnectionLostError) && !at.signal.aborted;
  if (!unsupported && !generic) return mapped;
  return new ConfigError(
    `the server refused to rename ${from} to ${to} (${serverText(toError(thrown))}); ` +
      'if this server cannot rename files, set "atomicRename": false (files are then written under their final names)',
    { field: 'atomicRename', cause: thrown },
  );
}

/** The message as the server or library worded it, on one line. */
function serverText(error: Error): string {
  return error.message.replace(/\s+/g, ' ').trim() || error.name;
}
