/**
 * `batch-router destinations` and `destination <id>`: what the destinations file declares, whether
 * each entry is usable, and how many jobs each has by state. Destinations that only exist in the
 * database (removed from the file, or typo'd ids enqueued with --force) are listed too, since
 * their jobs wait for ever otherwise. Configs are shown with secrets replaced, never as written.
 */
import { countByDestinationAndState } from '../../store/jobs.repository.ts';
import { JOB_STATES, type JobState } from '../../db/schema.ts';
import type { Destination } from '../../destinations.ts';
import { redactText } from '../../logger.ts';
import { redactConfig } from '../../manager/config-schema.ts';
import { optFlag } from '../args.ts';
import { EXIT, UsageError, type CliContext, type Command } from '../command.ts';
import { loadDestinationsFile } from '../context.ts';
import { isMissingTable, withDatabase } from '../database.ts';
import { printJson, printTable, renderFields } from '../output.ts';

type Counts = Record<JobState, number>;
const zero = (): Counts => ({ waiting: 0, executing: 0, importing: 0, succeeded: 0, aborted: 0, cancelled: 0 });

export interface DestinationStatus {
  id: string;
  manager: string;
  enabled: boolean;
  valid: boolean;
  error?: string;
  counts: Counts;
}

const NOT_IN_FILE = 'not in the destinations file';

/** Job counts per destination; an unmigrated database has no jobs, so it reads as all zeros. */
async function jobCounts(ctx: CliContext): Promise<Map<string, Counts>> {
  return withDatabase(ctx, async (db) => {
    const byDestination = new Map<string, Counts>();
    try {
      for (const row of await countByDestinationAndState(db)) {
        const counts = byDestination.get(row.destinationId) ?? zero();
        counts[row.state] = row.count;
        byDestination.set(row.destinationId, counts);
      }
    } catch (error) {
      if (!isMissingTable(error)) throw error;
      ctx.note('note: the database has no batch-router tables yet, so every count is 0: run "batch-router migrate" (or start the daemon).');
    }
    return byDestination;
  });
}

function statusOf(d: Destination, counts: Counts): DestinationStatus {
  return { id: d.id, manager: d.managerName, enabled: d.enabled, valid: d.valid, ...(d.error ? { error: d.error } : {}), counts };
}

export const destinationsCommand: Command = {
  name: 'destinations',
  async run(input, ctx) {
    const loaded = await loadDestinationsFile(ctx);
    const counts = await jobCounts(ctx);
    const listed: DestinationStatus[] = loaded.destinations.map((d) => statusOf(d, counts.get(d.id) ?? zero()));
    const inFile = new Set(listed.map((d) => d.id));
    const orphans = [...counts.keys()].filter((id) => !inFile.has(id)).sort();
    for (const id of orphans) {
      listed.push({ id, manager: '', enabled: false, valid: false, error: NOT_IN_FILE, counts: counts.get(id)! });
    }

    if (optFlag(input, 'json')) printJson(ctx, listed);
    else if (listed.length === 0) ctx.print('(no destinations)');
    else {
      const status = (d: DestinationStatus) => (d.error === NOT_IN_FILE ? 'unknown' : !d.valid ? 'invalid' : d.enabled ? 'ready' : 'disabled');
      const rows = listed.map((d) => [d.id, d.manager || '-', status(d), ...JOB_STATES.map((s) => String(d.counts[s]))]);
      printTable(ctx, ['ID', 'MANAGER', 'STATUS', ...JOB_STATES.map((s) => s.toUpperCase())], rows);
      for (const d of listed) if (d.error && d.error !== NOT_IN_FILE) ctx.note(`${d.id}: ${d.error}`);
      for (const d of loaded.destinations) for (const note of d.notes) ctx.note(note);
      if (orphans.length > 0) {
        ctx.note(`${orphans.join(', ')}: jobs exist but the destination is ${NOT_IN_FILE}; add it, or cancel its jobs with "batch-router cancel --destination <id>"`);
      }
    }
    if (loaded.fileError) {
      ctx.note(`batch-router: ${loaded.fileError}`);
      return EXIT.usage;
    }
    // A deployment pipeline can gate on this; "batch-router check" also covers settings and database.
    return loaded.destinations.some((d) => !d.valid) ? EXIT.usage : EXIT.ok;
  },
};

export const destinationCommand: Command = {
  name: 'destination',
  async run(input, ctx) {
    const id = input.positionals[0]!;
    const d = await checkedDestinationId(ctx, id, { force: false, forceHint: false });
    const counts = (await jobCounts(ctx)).get(id) ?? zero();
    const config = shownConfig(d);
    if (optFlag(input, 'json')) {
      printJson(ctx, { ...statusOf(d, counts), notes: d.notes, tuning: d.tuning, config });
      return EXIT.ok;
    }
    ctx.print(`destination ${d.id}`);
    ctx.print(
      renderFields([
        ['manager', d.managerName || '-'],
        ['status', !d.valid ? 'invalid' : d.enabled ? 'ready' : 'disabled'],
        ['error', d.error],
        ['jobs', JOB_STATES.map((s) => `${s} ${counts[s]}`).join(', ')],
      ]),
    );
    for (const note of d.notes) ctx.print(`  note: ${note}`);
    ctx.print('tuning');
    ctx.print(renderFields(Object.entries(d.tuning).map(([key, value]) => [key, String(value)])));
    ctx.print('config');
    ctx.print(config === undefined ? '  (not shown: the manager is unknown, so its secret fields are too)' : indent(JSON.stringify(config, null, 2)));
    return EXIT.ok;
  },
};

/**
 * The config safe to print: secret fields replaced by the manager's schema, then any value that
 * came from the environment scrubbed from the rest. Without a known manager nothing is shown.
 */
function shownConfig(d: Destination): unknown {
  if (!d.manager) return undefined;
  const config = d.config;
  const object = typeof config === 'object' && config !== null && !Array.isArray(config) ? (config as Record<string, unknown>) : undefined;
  const redacted = object ? redactConfig(d.manager.configSchema, object) : config;
  return JSON.parse(redactText(JSON.stringify(redacted ?? null), d.secrets));
}

function indent(text: string): string {
  return text.replace(/^/gm, '  ');
}

/**
 * The file's entry for `id` (valid or not: callers decide what an invalid entry means), or a
 * usage error listing the ids the file does define. With `force`, an id missing from the file
 * gives undefined instead of the error.
 */
export async function checkedDestinationId(ctx: CliContext, id: string, options: { force: true }): Promise<Destination | undefined>;
export async function checkedDestinationId(ctx: CliContext, id: string, options: { force: false; forceHint: boolean }): Promise<Destination>;
export async function checkedDestinationId(
  ctx: CliContext,
  id: string,
  options: { force: boolean; forceHint?: boolean },
): Promise<Destination | undefined> {
  const loaded = await loadDestinationsFile(ctx);
  const found = loaded.destinations.find((d) => d.id === id);
  if (found || options.force) return found;
  const known = loaded.destinations.filter((d) => !d.id.startsWith('#')).map((d) => d.id);
  const file = ctx.config().destinationsFile;
  const listing = loaded.fileError ?? (known.length > 0 ? `${file} defines: ${known.join(', ')}` : `${file} defines no destinations`);
  const force = options.forceHint ? ', or pass --force to enqueue anyway (the jobs wait until it is configured)' : '';
  throw new UsageError(`unknown destination "${id}". ${listing}. Fix the id, add it to the destinations file${force}`);
}
