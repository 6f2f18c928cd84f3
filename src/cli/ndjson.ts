/**
 * Streams NDJSON into batches of checked events, line by line, so a multi-gigabyte file never
 * sits in memory: readline pauses the input while the consumer is busy inserting a batch.
 * Each line must be one JSON object; the check also rejects what JSON allows but PostgreSQL's
 * jsonb and many receivers refuse (\u0000, lone surrogates), because otherwise the whole upload
 * carrying it would fail at the destination with a message that names no line.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export interface NdjsonBatch {
  /** JSON texts, one event each, trimmed but otherwise exactly as read. */
  readonly events: string[];
  /** 1-based line numbers of the batch's first and last line (blank lines included in numbering). */
  readonly firstLine: number;
  readonly lastLine: number;
}

/** A line that is not a JSON object. Thrown by the batch iterator when it reaches that line. */
export class NdjsonLineError extends Error {
  constructor(
    readonly line: number,
    readonly problem: string,
  ) {
    super(`line ${line}: ${problem}`);
    this.name = 'NdjsonLineError';
  }
}

export interface BatchLimits {
  maxEvents: number;
  /** Text bytes per batch, so a file of huge events still makes statements of sane size. */
  maxBytes: number;
}

/** Yields full batches as they fill up and a last partial one; throws at the first bad line. */
export async function* readNdjsonBatches(input: Readable, limits: BatchLimits): AsyncGenerator<NdjsonBatch> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let events: string[] = [];
  let bytes = 0;
  let firstLine = 0;
  let lineNumber = 0;
  try {
    for await (const raw of lines) {
      lineNumber += 1;
      // A byte-order mark is invisible in editors but not to JSON.parse.
      const text = (lineNumber === 1 ? raw.replace(/^\uFEFF/, '') : raw).trim();
      if (text === '') continue; // blank lines (a trailing newline, spacing) carry no event
      const problem = problemWith(text);
      if (problem) throw new NdjsonLineError(lineNumber, problem);
      if (events.length === 0) firstLine = lineNumber;
      events.push(text);
      bytes += Buffer.byteLength(text);
      if (events.length >= limits.maxEvents || bytes >= limits.maxBytes) {
        yield { events, firstLine, lastLine: lineNumber };
        events = [];
        bytes = 0;
      }
    }
    if (events.length > 0) yield { events, firstLine, lastLine: lineNumber };
  } finally {
    lines.close();
    // Stop reading a file we gave up on; stdin is left to the process, which is about to exit.
    if (input !== process.stdin) input.destroy();
  }
}

function problemWith(text: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `not valid JSON (${(error as Error).message}); each line must hold one complete JSON object`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    return `expected a JSON object such as {"type": "signup"}, got ${kind}`;
  }
  // Only escapes can produce these characters, so the walk runs for the rare line that has one.
  if (/\\u(0000|d[89a-f])/i.test(text) && !storable(value)) {
    return 'contains \\u0000 or a lone UTF-16 surrogate escape, which receivers and PostgreSQL jsonb refuse: remove or replace it';
  }
  return undefined;
}

const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function storable(value: unknown): boolean {
  if (typeof value === 'string') return !UNSTORABLE.test(value);
  if (Array.isArray(value)) return value.every(storable);
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).every(([key, inner]) => !UNSTORABLE.test(key) && storable(inner));
  }
  return true;
}

/**
 * Yields what `source` yields while already producing the next item, so reading and checking the
 * next batch overlaps the insert of this one (on the embedded database the insert runs in the
 * daemon's process, on the other core). An error of the item read ahead is thrown when its turn
 * comes, after the items before it were handled, so "lines 1–N made it in" stays exact.
 */
export async function* readAhead<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  const ask = () => {
    const next = iterator.next();
    next.catch(() => undefined); // handled where it is awaited
    return next;
  };
  let next = ask();
  let finished = false;
  try {
    for (;;) {
      const result = await next;
      if (result.done) {
        finished = true;
        return;
      }
      next = ask();
      yield result.value;
    }
  } finally {
    // Not awaited: the item being read ahead may wait on input (stdin) that never comes.
    if (!finished) void iterator.return?.(undefined)?.catch(() => undefined);
  }
}
