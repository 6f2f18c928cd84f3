/**
 * Job ids as ranges. An enqueue of a million events draws ids from one sequence, so they come out
 * as one or a few runs of consecutive numbers; keeping (first, last) pairs instead of the ids lets
 * `enqueue` print "ids 1–1000000" and lets `--wait` count exactly those jobs with one query.
 * Ranges built here hold only ids that were really returned: a gap (ids taken concurrently by
 * another writer) starts a new range instead of being papered over.
 */
import type { IdRange } from '../store/jobs.repository.ts';

/** Appends ids (in any order) to `ranges`, merging runs of consecutive ids. Returns `ranges`. */
export function addIds(ranges: IdRange[], ids: readonly string[]): IdRange[] {
  const sorted = ids.map((id) => BigInt(id)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const id of sorted) {
    const last = ranges.at(-1);
    if (last && BigInt(last.last) + 1n === id) last.last = String(id);
    else if (last && BigInt(last.first) <= id && id <= BigInt(last.last)) continue;
    else ranges.push({ first: String(id), last: String(id) });
  }
  return ranges;
}

export function countIds(ranges: readonly IdRange[]): number {
  return ranges.reduce((sum, range) => sum + Number(BigInt(range.last) - BigInt(range.first) + 1n), 0);
}

/**
 * "ids 1–1000", "id 7", "ids 1–500, 601–1100"; past `max` ranges only the first few and the
 * overall span are shown, since nobody reads a hundred ranges.
 */
export function formatRanges(ranges: readonly IdRange[], max = 4): string {
  if (ranges.length === 0) return 'no ids';
  const one = (range: IdRange) => (range.first === range.last ? range.first : `${range.first}–${range.last}`);
  const label = countIds(ranges) === 1 ? 'id' : 'ids';
  if (ranges.length <= max) return `${label} ${ranges.map(one).join(', ')}`;
  const span = `${ranges[0]!.first}–${ranges.at(-1)!.last}`;
  return `${label} ${ranges.slice(0, max - 1).map(one).join(', ')}, … (${ranges.length} ranges within ${span})`;
}
