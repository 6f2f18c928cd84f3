/**
 * What the PGlite wire server refuses before it reaches PGlite, because PGlite cannot serve it
 * and fails in a way that takes the whole process down with it.
 *
 * COPY … FROM STDIN / TO STDOUT (psql's `\copy`, pg-copy-streams) puts PGlite in a copy-in state
 * it cannot leave: the client's CopyData never reaches it as the protocol expects, the session is
 * lost, and the clean-up after that client blocks the event loop for good (API, timers and
 * metrics freeze). COPY to or from a server-side file would reach PGlite's in-memory file system,
 * not the user's disk, which is never what was meant. So every COPY is answered with an ordinary
 * PostgreSQL error (feature_not_supported) that says what to do instead, produced by PGlite itself
 * so the session's transaction state stays exactly what PostgreSQL would make it.
 */

import { simpleQuery } from './pglite-wire-protocol.ts';

const COPY_MESSAGE =
  'COPY is not supported by the embedded database (PGlite); insert rows with INSERT, ' +
  'or run batch-router on a PostgreSQL server (set DATABASE_URL) to use COPY';
const COPY_HINT = 'batch-router enqueue loads NDJSON files into the embedded database without COPY';

/** A statement that fails with our error: PGlite raises it, so transaction state follows PostgreSQL's rules. */
const REFUSAL_SQL =
  `DO $batch_router$ BEGIN RAISE EXCEPTION USING ERRCODE = 'feature_not_supported', ` +
  `MESSAGE = '${COPY_MESSAGE}', HINT = '${COPY_HINT}'; END $batch_router$`;

const QUERY = 0x51; // 'Q'
const PARSE = 0x50; // 'P'
const COPY_DATA = 0x64; // 'd'
const COPY_DONE = 0x63; // 'c'
const COPY_FAIL = 0x66; // 'f'

// A COPY at the start of any statement of the text, after blanks and comments.
const COPY_STATEMENT = /(?:^|;)(?:\s|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*copy\b/i;

export function isCopyStatement(sql: string): boolean {
  return COPY_STATEMENT.test(sql);
}

/**
 * The message to hand PGlite instead of `message`: the same message when it is harmless, a
 * refusal in its place for a COPY, or `undefined` for copy-mode traffic (CopyData, CopyDone,
 * CopyFail), which is dropped because no copy can have started.
 */
export function guardMessage(message: Buffer): Buffer | undefined {
  const type = message[0];
  if (type === COPY_DATA || type === COPY_DONE || type === COPY_FAIL) return undefined;
  if (type === QUERY) {
    return isCopyStatement(cString(message, 5).text) ? simpleQuery(REFUSAL_SQL) : message;
  }
  if (type === PARSE) {
    const name = cString(message, 5);
    const text = cString(message, name.end);
    return isCopyStatement(text.text) ? parse(name.text, REFUSAL_SQL) : message;
  }
  return message;
}

/** The SQL text of a Query or Parse message; undefined for other messages. */
export function statementText(message: Buffer): string | undefined {
  if (message[0] === QUERY) return cString(message, 5).text;
  if (message[0] === PARSE) return cString(message, cString(message, 5).end).text;
  return undefined;
}

function cString(buffer: Buffer, start: number): { text: string; end: number } {
  const zero = buffer.indexOf(0, start);
  const end = zero < 0 ? buffer.length : zero;
  return { text: buffer.toString('utf8', start, end), end: end + 1 };
}

/** A Parse of `text` under the client's statement name, declaring no parameter types. */
function parse(name: string, text: string): Buffer {
  const body = Buffer.concat([Buffer.from(`${name}\0${text}\0`), Buffer.from([0, 0])]);
  const message = Buffer.alloc(5 + body.length);
  message[0] = PARSE;
  message.writeInt32BE(4 + body.length, 1);
  body.copy(message, 5);
  return message;
}
