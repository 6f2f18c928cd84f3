/**
 * Prometheus metrics at /metrics. Two kinds:
 * - request, ingest and callback counters measured in this process;
 * - delivery figures (jobs by state, backlog age, upload and import durations, vendor errors by
 *   code) read from the database at scrape time. The router processes that do the work may be
 *   other processes, and the database is where all of them record it, so every API process
 *   reports the same values: scrape one, or aggregate these with max(), not sum().
 */
import type { Kysely } from 'kysely';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { countByDestinationAndState } from '../store/jobs.repository.ts';
import { oldestWaitingByDestination } from '../store/jobs.reporting.ts';
import type { Database } from '../db/schema.ts';
import { recentDurations, recentUnconfirmedJobs, recentVendorErrors } from '../store/uploads.reporting.ts';

/** Window of the duration quantiles and the vendor-error counts. */
export const RECENT_WINDOW_MS = 15 * 60_000;

export class ApiMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'batch_router_api_requests_total', help: 'API requests by route and status', labelNames: ['method', 'route', 'status'], registers: [this.registry] });
  readonly requestSeconds = new Histogram({
    name: 'batch_router_api_request_duration_seconds', help: 'API request durations', labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry],
  });
  readonly eventsAccepted = new Counter({ name: 'batch_router_api_events_accepted_total', help: 'Events accepted through POST /events', labelNames: ['destination'], registers: [this.registry] });
  readonly callbackAttempts = new Counter({ name: 'batch_router_callback_attempts_total', help: 'Callback attempts by outcome (delivered, retry, failed, gone)', labelNames: ['outcome'], registers: [this.registry] });
  readonly #jobs = new Gauge({ name: 'batch_router_jobs', help: 'Jobs by destination and state', labelNames: ['destination', 'state'], registers: [this.registry] });
  readonly #backlogAge = new Gauge({ name: 'batch_router_backlog_age_seconds', help: 'Age of the oldest waiting job per destination', labelNames: ['destination'], registers: [this.registry] });
  readonly #uploadSeconds = new Gauge({ name: 'batch_router_upload_duration_seconds', help: 'Upload durations (send to finish) over the last 15 minutes', labelNames: ['destination', 'quantile'], registers: [this.registry] });
  readonly #importSeconds = new Gauge({ name: 'batch_router_import_duration_seconds', help: 'Vendor import (poll) durations over the last 15 minutes', labelNames: ['destination', 'quantile'], registers: [this.registry] });
  readonly #vendorErrors = new Gauge({ name: 'batch_router_vendor_errors', help: 'Upload and import errors recorded in the last 15 minutes, by stable error code', labelNames: ['destination', 'code'], registers: [this.registry] });
  readonly #unconfirmed = new Gauge({
    name: 'batch_router_unconfirmed_jobs', labelNames: ['destination'], registers: [this.registry],
    help: "Jobs of imports finished in the last 15 minutes whose outcome the vendor's results did not confirm (totals and listed rows disagreed)",
  });

  /** Held connections and shared SSE readers of this process, read at scrape time. */
  observeStreams(read: () => { open: number; followed: number; reads: number }): void {
    new Gauge({ name: 'batch_router_api_held_connections', help: 'Open SSE streams plus Prefer: wait requests in this process', registers: [this.registry], collect() { this.set(read().open); } });
    new Gauge({ name: 'batch_router_api_followed_resources', help: 'Submissions and uploads followed by a shared SSE reader in this process', registers: [this.registry], collect() { this.set(read().followed); } });
    new Gauge({ name: 'batch_router_api_sse_reads', help: 'Database reads made by the shared SSE readers of this process since start', registers: [this.registry], collect() { this.set(read().reads); } });
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'batch_router_process_' });
  }

  /** Reads the delivery figures from the database; called before each scrape. */
  async refresh(db: Kysely<Database>): Promise<void> {
    const [jobs, ages, durations, errors, unconfirmed] = await Promise.all([
      countByDestinationAndState(db),
      oldestWaitingByDestination(db),
      recentDurations(db, RECENT_WINDOW_MS),
      recentVendorErrors(db, RECENT_WINDOW_MS),
      recentUnconfirmedJobs(db, RECENT_WINDOW_MS),
    ]);
    // Reset first so a destination whose backlog emptied stops being reported with its old value.
    for (const gauge of [this.#jobs, this.#backlogAge, this.#uploadSeconds, this.#importSeconds, this.#vendorErrors, this.#unconfirmed]) {
      gauge.reset();
    }
    for (const row of jobs) this.#jobs.set({ destination: row.destinationId, state: row.state }, row.count);
    for (const row of ages) this.#backlogAge.set({ destination: row.destinationId }, row.seconds);
    for (const row of durations) {
      const gauge = row.kind === 'upload' ? this.#uploadSeconds : this.#importSeconds;
      gauge.set({ destination: row.destinationId, quantile: '0.5' }, row.p50);
      gauge.set({ destination: row.destinationId, quantile: '0.95' }, row.p95);
    }
    for (const row of errors) this.#vendorErrors.set({ destination: row.destinationId, code: row.code }, row.count);
    for (const row of unconfirmed) this.#unconfirmed.set({ destination: row.destinationId }, row.count);
  }
}
