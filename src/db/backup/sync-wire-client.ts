/**
 * A blocking PostgreSQL wire client, for PGlite's pg_dump (a WASM program) talking to the running
 * daemon's embedded server (pglite-wire.ts) from another process.
 *
 * Why blocking: pg_dump hands each message it writes to `execProtocolRawStream` and reads the
 * answer back in the same synchronous call (it was built to run beside an in-process PGlite), so
 * the answer must be there before the call returns. A socket in this thread cannot deliver it
 * while the thread waits, so a worker thread owns the socket: this thread posts the bytes, sleeps
 * on a shared flag (Atomics.wait) until the worker has the whole answer (up to ReadyForQuery, the
 * end of every answer to pg_dump's simple queries and to the startup packet), and takes it off the
 * message port synchronously.
 *
 * Never use it against a server in this same process: the thread that serves would be the one
 * asleep, and the wait would only end at its timeout.
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';

/** Plain JavaScript, evaluated in the worker: no loader or build step needed in either mode. */
const WORKER_SOURCE = `
const net = require('node:net');
const { workerData } = require('node:worker_threads');
const { host, port, flag, replies } = workerData;
const signal = new Int32Array(flag);
let pending = Buffer.alloc(0);
let expecting = false;
let closed = false;
const answer = (message) => {
  replies.postMessage(message);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
};
// True once the buffered answer ends with a whole ReadyForQuery ('Z') message.
const complete = () => {
  let at = 0;
  let last;
  while (at + 5 <= pending.length) {
    const end = at + 1 + pending.readInt32BE(at + 1);
    if (end > pending.length) return false;
    last = pending[at];
    at = end;
  }
  return at === pending.length && last === 0x5a;
};
const flush = () => {
  if (!expecting || !(closed || complete())) return;
  expecting = false;
  answer({ data: pending, closed });
  pending = Buffer.alloc(0);
};
const socket = net.connect({ host, port }, () => answer({ connected: true }));
socket.setNoDelay(true);
socket.on('data', (chunk) => { pending = Buffer.concat([pending, chunk]); flush(); });
socket.on('error', (err) => { if (!closed) { closed = true; answer({ error: err.message }); } });
socket.on('close', () => { closed = true; flush(); });
replies.on('message', (request) => {
  if (request.end) { socket.end(); replies.close(); return; }
  const bytes = Buffer.from(request.bytes);
  // Terminate ('X') has no answer.
  expecting = bytes[0] !== 0x58;
  if (closed) { expecting = false; answer({ data: Buffer.alloc(0), closed: true }); return; }
  socket.write(bytes);
  if (!expecting) answer({ data: Buffer.alloc(0), closed: false });
});
`;

export interface SyncWireClient {
  /** Sends frontend bytes and returns the backend's whole answer (empty once the server is gone). */
  exchange(bytes: Uint8Array): Uint8Array;
  close(): Promise<void>;
}

interface Reply {
  connected?: boolean;
  error?: string;
  data?: Uint8Array;
  closed?: boolean;
}

export function openSyncWireClient(host: string, port: number, timeoutMs: number): SyncWireClient {
  const flag = new SharedArrayBuffer(4);
  const signal = new Int32Array(flag);
  const { port1: ours, port2: theirs } = new MessageChannel();
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { host, port, flag, replies: theirs }, transferList: [theirs] });
  worker.unref();
  let broken = false;

  const wait = (what: string): Reply => {
    if (Atomics.wait(signal, 0, 0, timeoutMs) === 'timed-out') {
      broken = true;
      throw new Error(`no answer from the embedded database at ${host}:${port} within ${timeoutMs / 1000} s while ${what}`);
    }
    Atomics.store(signal, 0, 0);
    const reply = receiveMessageOnPort(ours)?.message as Reply | undefined;
    if (reply?.error) {
      broken = true;
      throw new Error(`lost the connection to the embedded database at ${host}:${port} (${reply.error})`);
    }
    return reply ?? {};
  };
  wait('connecting');

  return {
    exchange(bytes) {
      if (broken) return new Uint8Array();
      (ours as MessagePort).postMessage({ bytes: Uint8Array.from(bytes) });
      return wait('dumping').data ?? new Uint8Array();
    },
    async close() {
      ours.postMessage({ end: true });
      ours.close();
      await worker.terminate();
    },
  };
}
