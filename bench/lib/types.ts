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
  peakRssMb: number | null;
  cpuSecondsPer100k: number | null;
  pgCpuSecondsPer100k: number | null;
  duplicates: number | null;
  lost: number | null;
}
