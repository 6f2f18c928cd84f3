/**
 * The few pieces of the PostgreSQL wire protocol the PGlite server handles itself, rather than
 * passing through to PGlite: startup codes, ReadyForQuery detection, and messages it sends.
 */

export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;
export const PROTOCOL_3 = 196608;
export const TERMINATE = 0x58; // 'X'
export const READY_FOR_QUERY = 0x5a; // 'Z'
/** ReadyForQuery status: no transaction open. 'T' (in one) and 'E' (failed one) keep the session. */
export const IDLE = 0x49; // 'I'

/** Follows backend message boundaries across chunks to find ReadyForQuery's status byte. */
export class ReadyScanner {
  status: number | undefined;
  private readonly header = Buffer.alloc(5);
  private headerBytes = 0;
  private bodyLeft = 0;
  private wantStatus = false;

  feed(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.bodyLeft > 0) {
        if (this.wantStatus) this.status = chunk[i];
        this.wantStatus = false;
        const n = Math.min(this.bodyLeft, chunk.length - i);
        i += n;
        this.bodyLeft -= n;
        continue;
      }
      this.header[this.headerBytes++] = chunk[i++]!;
      if (this.headerBytes === 5) {
        this.headerBytes = 0;
        this.bodyLeft = this.header.readInt32BE(1) - 4;
        this.wantStatus = this.header[0] === READY_FOR_QUERY;
      }
    }
  }
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
