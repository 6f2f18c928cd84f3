/**
 * The few pieces of the PostgreSQL wire protocol the PGlite server handles itself, rather than
 * passing through to PGlite: startup codes, what it reads in PGlite's answers (ReadyForQuery,
 * errors, notifications), and messages it sends.
 */

export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;
export const PROTOCOL_3 = 196608;
export const TERMINATE = 0x58; // 'X'
export const QUERY = 0x51; // 'Q'
export const SYNC = 0x53; // 'S'
/** Extended-protocol messages that run up to the next Sync: Parse, Bind, Describe, Execute, Close, Flush. */
export const EXTENDED = new Set([0x50, 0x42, 0x44, 0x45, 0x43, 0x48]);
const READY_FOR_QUERY = 0x5a; // 'Z'
const ERROR_RESPONSE = 0x45; // 'E'
const COMMAND_COMPLETE = 0x43; // 'C'
const NOTIFICATION = 0x41; // 'A'
/** ReadyForQuery status: no transaction open. 'T' (in one) and 'E' (failed one) keep the session. */
export const IDLE = 0x49; // 'I'

/** A NotificationResponse found in PGlite's answer: where it is, and its channel. */
export interface FoundNotification {
  start: number;
  end: number;
  channel: string;
}

/** What the server needs to know about one answer of PGlite (whole backend messages). */
export interface AnswerScan {
  /** Status of the last ReadyForQuery, if the answer has one. */
  status: number | undefined;
  /** An ErrorResponse, or a ROLLBACK's CommandComplete: what this answer did is undone. */
  undone: boolean;
  notifications: FoundNotification[];
}

export function scanAnswer(answer: Buffer): AnswerScan {
  const scan: AnswerScan = { status: undefined, undone: false, notifications: [] };
  for (let at = 0; at + 5 <= answer.length; ) {
    const type = answer[at]!;
    const end = at + 1 + answer.readInt32BE(at + 1);
    if (type === READY_FOR_QUERY) scan.status = answer[at + 5];
    else if (type === ERROR_RESPONSE) scan.undone = true;
    else if (type === COMMAND_COMPLETE && answer.toString('latin1', at + 5, end - 1) === 'ROLLBACK') scan.undone = true;
    else if (type === NOTIFICATION) {
      // Int32 pid, then the channel as a C string, then the payload.
      const channelStart = at + 9;
      scan.notifications.push({ start: at, end, channel: answer.toString('utf8', channelStart, answer.indexOf(0, channelStart)) });
    }
    at = end;
  }
  return scan;
}

export function simpleQuery(text: string): Buffer {
  const body = Buffer.from(`${text}\0`);
  const message = Buffer.alloc(5 + body.length);
  message.write('Q', 0);
  message.writeInt32BE(4 + body.length, 1);
  body.copy(message, 5);
  return message;
}

export function fatalError(code: string, text: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${text}\0\0`);
  const message = Buffer.alloc(5 + fields.length);
  message.write('E', 0);
  message.writeInt32BE(4 + fields.length, 1);
  fields.copy(message, 5);
  return message;
}
