/**
 * The command line of `npm run bench`, turned into one settings object: every size and switch
 * with its full-run and `--quick` default in one place, so bench/README.md and `--help` can be
 * checked against a single list.
 */
import { parseArgs } from 'node:util';
import type { HistoryDestination } from '../workloads/history-template.ts';

export const USAGE = `usage: npm run bench -- [options]

  --sweep                 instead of the suite: every peer over a grid of settings → results/sweep.json
  --sweep-events N        events per sweep point (50,000); --sweep-systems a,b limits the systems
  --soak                  instead of the suite: one long fixed-rate run, retention on → results/soak.json
                          (--soak --help for its flags)
  --quick                 smoke test of everything (~2 min): small sizes, 1 round
  --n N                   W1/W3 jobs per run (100,000; quick 20,000)
  --runs R                measured rounds (3; quick 1)
  --warmup N              W1 warm-up jobs per system (n/10 within 1,000..10,000)
  --systems a,b           only these systems (names as in the table)
  --tuning JSON           batch-router-webhook destination tuning overrides (exploration)
  --skip-w3               no W3 (10% of sink answers 500) rows
  --w2-rates a,b          W2 target rates in events/s (1000,5000,10000)
  --w2-seconds S          W2 enqueue duration per run (10; quick 2)
  --skip-w2               no W2 steady-rate rows
  --scale-rows N          finished jobs in the tables for the scale row (5,000,000; quick 200,000)
  --scale-destination D   whose finished jobs: same | other | both (same)
  --skip-scale            no scale row
  --backlog N             waiting jobs for the memory row (1,000,000; quick 100,000)
  --skip-memory           no memory row
  --idle-seconds S        idle row: the daemon's CPU on an empty store, production defaults (30; quick 5)
  --skip-idle             no idle row
  --skip-cli              no CLI enqueue rows
  --skip-api              no HTTP API ingest rows
  --skip-embedded         no rows on the embedded database (PGlite, no DATABASE_URL)
  --embedded-only         only the embedded database's rows: CLI ingest, API ingest, W1 (no PostgreSQL needed)
  --out FILE              results file (bench/results/latest.json)
`;

export interface BenchSettings {
  quick: boolean;
  n: number;
  runs: number;
  warmupN: number;
  systems: string[] | undefined;
  tuningOverrides: Record<string, number>;
  w3: boolean;
  w2: { rates: number[]; durationMs: number; startupMs: number; graceMs: number; tickMs: number } | null;
  scale: { rows: number; destinations: HistoryDestination[] } | null;
  memory: { backlog: number } | null;
  /** The idle row: seconds measured. */
  idle: { seconds: number } | null;
  cli: boolean;
  api: boolean;
  /** The embedded-database section (CLI ingest, API ingest, W1 on PGlite). */
  embedded: boolean;
  /** Nothing but that section. */
  embeddedOnly: boolean;
  out: string | undefined;
}

export function readSettings(args: string[] = process.argv.slice(2)): BenchSettings | 'help' {
  const { values: flags } = parseArgs({
    args,
    options: {
      quick: { type: 'boolean', default: false },
      n: { type: 'string' },
      runs: { type: 'string' },
      warmup: { type: 'string' },
      tuning: { type: 'string' },
      out: { type: 'string' },
      systems: { type: 'string' },
      'skip-w3': { type: 'boolean', default: false },
      'w2-rates': { type: 'string' },
      'w2-seconds': { type: 'string' },
      'skip-w2': { type: 'boolean', default: false },
      'scale-rows': { type: 'string' },
      'scale-destination': { type: 'string' },
      'skip-scale': { type: 'boolean', default: false },
      backlog: { type: 'string' },
      'skip-memory': { type: 'boolean', default: false },
      'idle-seconds': { type: 'string' },
      'skip-idle': { type: 'boolean', default: false },
      'skip-cli': { type: 'boolean', default: false },
      'skip-api': { type: 'boolean', default: false },
      'skip-embedded': { type: 'boolean', default: false },
      'embedded-only': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (flags.help) return 'help';
  const quick = flags.quick;
  const n = whole('n', flags.n, quick ? 20_000 : 100_000);
  const rates = flags['w2-rates']?.split(',').map((rate) => whole('w2-rates', rate.trim(), 0)) ?? [1_000, 5_000, 10_000];
  const durationMs = seconds('w2-seconds', flags['w2-seconds'], quick ? 2 : 10) * 1000;
  const scaleRows = whole('scale-rows', flags['scale-rows'], quick ? 200_000 : 5_000_000);
  const destination = flags['scale-destination'] ?? 'same';
  if (!['same', 'other', 'both'].includes(destination)) throw new Error(`--scale-destination must be same, other or both, got "${destination}"`);
  const backlog = whole('backlog', flags.backlog, quick ? 100_000 : 1_000_000);
  return {
    quick,
    n,
    runs: Math.max(1, whole('runs', flags.runs, quick ? 1 : 3)),
    // Big enough to warm PostgreSQL's caches and the OS page cache, small enough to cost seconds.
    warmupN: whole('warmup', flags.warmup, Math.min(10_000, Math.max(1_000, Math.floor(n / 10)))),
    systems: flags.systems?.split(',').map((s) => s.trim()).filter(Boolean),
    tuningOverrides: flags.tuning ? (JSON.parse(flags.tuning) as Record<string, number>) : {},
    w3: !flags['skip-w3'],
    w2: flags['skip-w2'] || rates.length === 0
      ? null
      : {
          rates: rates.filter((rate) => rate > 0),
          durationMs,
          // The consumer's first claim and connections happen before the first event.
          startupMs: quick ? 500 : 1000,
          // A system that fell behind gets this long after the last enqueue to deliver the rest.
          graceMs: Math.max(10_000, durationMs),
          tickMs: 20,
        },
    scale: flags['skip-scale'] || scaleRows === 0
      ? null
      : { rows: scaleRows, destinations: destination === 'both' ? ['same', 'other'] : [destination as HistoryDestination] },
    memory: flags['skip-memory'] || backlog === 0 ? null : { backlog },
    idle: flags['skip-idle'] ? null : { seconds: Number(flags['idle-seconds'] ?? (quick ? 5 : 30)) },
    cli: !flags['skip-cli'],
    api: !flags['skip-api'],
    embedded: !flags['skip-embedded'] || flags['embedded-only'],
    embeddedOnly: flags['embedded-only'],
    out: flags.out,
  };
}

/** "1M", "200k", "1,500": the size as it appears in a row's workload name. */
export function sizeLabel(count: number): string {
  if (count >= 1_000_000 && count % 1_000_000 === 0) return `${count / 1_000_000}M`;
  if (count >= 1_000 && count % 1_000 === 0) return `${count / 1_000}k`;
  return count.toLocaleString('en-US');
}

function whole(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value.replace(/_/g, ''));
  if (!Number.isSafeInteger(parsed) || parsed < 0) throw new Error(`--${name} must be a whole number, got "${value}"`);
  return parsed;
}

function seconds(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`--${name} must be a positive number of seconds, got "${value}"`);
  return parsed;
}
