/** The command line of `npm run bench -- --soak` (bench/soak.ts): sizes with full and `--quick` defaults. */
import { parseArgs } from 'node:util';

export const SOAK_USAGE = `usage: npm run bench -- --soak [options]

  --soak-rate N               events/s enqueued for the whole run (30000): pass 70% of the W1/W2 peak
  --soak-seconds S            length of the run (3600; quick 60)
  --soak-sample-seconds S     one sample every S seconds (60; quick 10)
  --soak-retention-seconds S  BATCH_ROUTER_RETENTION_MAX_AGE_MS of the daemon, in seconds (60)
  --soak-sweep-seconds S      BATCH_ROUTER_SWEEP_INTERVAL_MS of the daemon, in seconds (5, the default)
  --quick                     the short defaults above
  --soak-out FILE, --out FILE samples and summary (bench/results/soak.json)
`;

export interface SoakSettings {
  ratePerSec: number;
  seconds: number;
  sampleSeconds: number;
  retentionMaxAgeMs: number;
  sweepIntervalMs: number;
  quick: boolean;
  out: string | undefined;
}

export function readSoakSettings(args: string[] = process.argv.slice(2)): SoakSettings | 'help' {
  const { values: flags } = parseArgs({
    args,
    options: {
      soak: { type: 'boolean', default: true },
      quick: { type: 'boolean', default: false },
      'soak-rate': { type: 'string' },
      'soak-seconds': { type: 'string' },
      'soak-sample-seconds': { type: 'string' },
      'soak-retention-seconds': { type: 'string' },
      'soak-sweep-seconds': { type: 'string' },
      'soak-out': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (flags.help) return 'help';
  const quick = flags.quick;
  return {
    ratePerSec: positive('soak-rate', flags['soak-rate'], 30_000),
    seconds: positive('soak-seconds', flags['soak-seconds'], quick ? 60 : 3600),
    sampleSeconds: positive('soak-sample-seconds', flags['soak-sample-seconds'], quick ? 10 : 60),
    retentionMaxAgeMs: Math.round(positive('soak-retention-seconds', flags['soak-retention-seconds'], 60) * 1000),
    sweepIntervalMs: Math.round(positive('soak-sweep-seconds', flags['soak-sweep-seconds'], 5) * 1000),
    quick,
    out: flags['soak-out'] ?? flags.out,
  };
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value.replace(/_/g, ''));
  if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`--${name} must be a positive number, got "${value}"`);
  return parsed;
}
