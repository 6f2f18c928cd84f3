/**
 * `enqueue` progress on large inputs, and the read-ahead that overlaps reading with inserting.
 */
import { describe, expect, it } from 'vitest';
import type { CliContext } from '../../src/cli/command.ts';
import { IngestProgress, ingestLine } from '../../src/cli/enqueue-progress.ts';
import { readAhead } from '../../src/cli/ndjson.ts';

function fakeContext(isTTY: boolean): { ctx: CliContext; written: string[]; notes: string[] } {
  const written: string[] = [];
  const notes: string[] = [];
  const stderr = { isTTY, columns: 200, write: (text: string) => void written.push(text) };
  return { ctx: { stderr, note: (line: string) => void notes.push(line) } as unknown as CliContext, written, notes };
}

describe('enqueue progress', () => {
  it('writes plain lines into a pipe or file, and ends with nothing to clear', () => {
    const { ctx, written, notes } = fakeContext(false);
    const progress = new IngestProgress(ctx, { totalBytes: 1000, bytesRead: () => 500, firstAfterMs: 0, plainEveryMs: 0 });
    progress.update(10);
    progress.finish();
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/^50% · enqueued 10 jobs · 0\.0 of 0\.0 MB read · \d+ jobs\/s · \d+s$/);
    expect(written).toEqual([]);
  });

  it('redraws one line on a terminal and ends it before the summary', () => {
    const { ctx, written, notes } = fakeContext(true);
    const progress = new IngestProgress(ctx, { totalBytes: undefined, bytesRead: () => 3 * 1024 * 1024, firstAfterMs: 0 });
    progress.update(5);
    progress.finish();
    expect(notes).toEqual([]);
    expect(written[0]).toMatch(/^\r\x1b\[2Kenqueued 5 jobs · 3\.0 MB read · /);
    expect(written.at(-1)).toBe('\n');
  });

  it('says nothing for an input done within the first second', () => {
    const { ctx, written, notes } = fakeContext(false);
    const progress = new IngestProgress(ctx, { totalBytes: 10, bytesRead: () => 10 });
    progress.update(1);
    progress.finish();
    expect([...written, ...notes]).toEqual([]);
  });

  it('draws a bar from the share of the file read', () => {
    expect(ingestLine(41, 41, 100, 2000, true)).toBe('[########------------] 41% · enqueued 41 jobs · 0.0 of 0.0 MB read · 21 jobs/s · 2s');
  });
});

describe('readAhead', () => {
  it('yields every item in order and throws a later error only after the items before it', async () => {
    async function* source() {
      yield 1;
      yield 2;
      throw new Error('bad line 3');
    }
    const seen: number[] = [];
    await expect((async () => {
      for await (const item of readAhead(source())) seen.push(item);
    })()).rejects.toThrow('bad line 3');
    expect(seen).toEqual([1, 2]);
  });

  it('produces the next item while the consumer still works on this one', async () => {
    const produced: number[] = [];
    async function* source() {
      for (let i = 1; i <= 3; i++) {
        produced.push(i);
        yield i;
      }
    }
    for await (const item of readAhead(source())) {
      await new Promise((resolve) => setImmediate(resolve));
      if (item < 3) expect(produced).toContain(item + 1);
    }
  });
});
