/**
 * The seams of the benchmark. A *system* is a job store plus its consumer (batch-router with the
 * webhook manager today; pg-boss, graphile-worker, a raw-SQL floor later); a *workload* drives any
 * system that implements what it needs and returns one {@link RunResult} per run. Adding a system
 * means one file under bench/systems/ and one line in bench/run.ts; nothing else changes.
 */
import type { BenchChild, ProcessStats } from './child.ts';

/** A system able to run the burn-down workload: enqueue a backlog, then drain it into the sink. */
export interface BurnDownSystem {
  /** Row name of the end-to-end figure, e.g. `batch-router-webhook`. */
  readonly name: string;
  /** The setting in words, shown in the table's notes (e.g. "best of sweep: 8 workers × 10000"). */
  readonly settingLabel?: string;
  /** True for the peers (pg-boss, graphile-worker) whose best W1 row sets the "× best peer" ratio. */
  readonly peer?: boolean;
  /** Row name of the enqueue figure, e.g. `batch-router-enqueue`. */
  readonly ingestName: string;
  /** Everything about this system that shapes its numbers; copied into latest.json. */
  readonly settings: Readonly<Record<string, unknown>>;
  /**
   * The receiver process (under bench/), reporting {@link SinkReport}-shaped stats; default
   * `sink-process.ts` (the HTTP webhook sink). Its ready message must carry `{ url }`.
   */
  readonly sinkScript?: string;
  /** Environment of the receiver process (e.g. the sink's failure fraction). */
  readonly sinkEnv?: Readonly<Record<string, string>>;
  /** Connects to a fresh, empty database and creates the system's schema there. */
  prepare(databaseUrl: string): Promise<PreparedSystem>;
}

export interface PreparedSystem {
  /** Enqueues one batch of events (JSON texts), the way a producer of this system would. */
  enqueue(events: readonly string[]): Promise<void>;
  /** True once no job is waiting or in flight. Polled every 100 ms while the clock runs: keep it cheap. */
  drained(): Promise<boolean>;
  /** Jobs in a final state (delivered or given up); checked once, after the clock stopped. */
  finalCount(): Promise<number>;
  /**
   * Forks the consumer process, ready but idle. Its `start` request begins the measured work and
   * its `stats` / `stop` requests answer with the process's own {@link ProcessStats}.
   */
  spawnConsumer(options: { sinkUrl: string; workDir: string }): Promise<BenchChild<unknown>>;
  close(): Promise<void>;
}

/** One measured run of one workload on one system. */
export interface RunResult {
  n: number;
  /** Enqueue phase: wall seconds and events per second. */
  enqueueSeconds: number;
  enqueuePerSec: number;
  /** From `start` until every job is final and the sink has every id (seconds). */
  elapsedSeconds: number;
  jobsPerSec: number;
  /** From the sink's first to its last accepted event (seconds): the same clock for every system. */
  deliverySeconds: number;
  /**
   * Events delivered after the first request over deliverySeconds: throughput once delivery runs,
   * without start-up and the final check. With one or two big requests it says little: rank by end to end.
   */
  deliveryJobsPerSec: number;
  consumer: ProcessStats;
  /** The sink process, for context: its CPU competes with the consumer's on a small machine. */
  sink: ProcessStats;
  /** Server CPU seconds in the measured window; null when /proc could not be read. */
  pgCpuSeconds: number | null;
  duplicates: number;
  /** Requests the sink answered with an error (W3's injected 500s; 0 in W1). */
  sinkRejected: number;
  /** n minus the unique ids the sink received. */
  lost: number;
  /** Jobs the database shows as final at the end (should equal n). */
  finalJobs: number;
  /**
   * WAL the server wrote from `start` until the run ended (pg_wal_lsn_diff of two
   * pg_current_wal_lsn() samples): server-wide, so anything else writing on the server counts too.
   * Null when the server would not say (e.g. a standby).
   */
  walBytes: number | null;
  /** 1-minute load average at the end of the run: other work on the machine skews the figures. */
  loadAverage: number;
}

/** min / median / max of a figure over the measured runs. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** One row of bench/results/latest.json and of the printed table. */
export interface ResultRow {
  system: string;
  workload: string;
  n: number;
  runs: number;
  jobsPerSec: Spread;
  /** W1/W3 rows: jobs/s from the sink's first to last delivery (median over runs). */
  deliveryJobsPerSec?: number;
  /** Which setting this row ran at, in words (e.g. a peer's best from the sweep). */
  setting?: string;
  /** W1 rows: this system's end-to-end jobs/s over the best peer's (pg-boss or graphile-worker). */
  ratioToBestPeer?: number | null;
  peakRssMb: number | null;
  cpuSecondsPer100k: number | null;
  pgCpuSecondsPer100k: number | null;
  duplicates: number | null;
  lost: number | null;
  /** W1, W3, scale and memory rows: WAL bytes per 100,000 jobs (median over runs), server-wide. */
  walBytesPer100k?: number | null;
  /** W2 rows: the rate the producer aimed at (events/s); `jobsPerSec` is what was delivered. */
  targetPerSec?: number;
  /** W2 rows: the rate the producer managed to enqueue at (median), below target if it fell behind. */
  enqueuePerSec?: number;
  /** W2 rows: enqueue → sink latency per event, each percentile the median over runs (ms). */
  latencyMs?: LatencyPercentiles;
  /** Scale row: finished jobs already in the tables when the burn-down started. */
  finishedRows?: number;
  /** Scale row: whether those finished jobs belong to the destination being drained. */
  finishedRowsDestination?: 'same' | 'other';
  /** Scale row: its jobs/s median divided by the same invocation's plain W1 median. */
  ratioToEmpty?: number | null;
  /**
   * Scale row: its jobs/s median divided by the median of the same rounds' runs on an empty store
   * copied from a template as large as the history's (bench/workloads/history-template.ts,
   * createPaddedEmptyTemplate): the cost of the history without the cost of copying it.
   */
  ratioToCopiedEmpty?: number | null;
  /** CLI ingest rows: wall seconds of the same process given an empty file (start-up, connect). */
  startupSeconds?: number;
}

export interface LatencyPercentiles {
  p50: number;
  p95: number;
  p99: number;
}

/** What one section of the suite (W1, W2, memory, ...) adds to latest.json. */
export interface PhaseResult {
  rows: ResultRow[];
  /** Every run's full figures, per system and workload. */
  raw: Array<{ system: string; workload: string; runs: unknown[] }>;
}
