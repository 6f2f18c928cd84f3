/**
 * Self-test of the conformance suite: no real manager polls yet, so a tiny in-memory async
 * manager exercises the import paths ((b) with getUploadStats, (g), (h)). Its "vendor" state lives
 * outside the session, as a real vendor's would, so a restart loses only the session.
 */
import { configSchema, f } from '../../src/manager/config-schema.ts';
import type { JsonObject } from '../../src/manager/contract.ts';
import { defineManager } from '../../src/manager/define.ts';
import { PermanentError, RetryableError } from '../../src/manager/errors.ts';
import { ERROR_CODES } from '../../src/manager/error-codes.ts';
import { runManagerConformance } from './suite.ts';

interface VendorImport {
  rows: Array<{ key: string; reject: boolean }>;
  done: boolean;
  /** The vendor's own total of failed rows, which a real vendor reports apart from its listing. */
  failedCount: number;
  /** The failure listing: row keys, as a result file would list them. */
  listed: string[];
}

const vendor = {
  imports: new Map<string, VendorImport>(),
  calls: 0,
  seq: 0,
  misreport: undefined as 'undercount' | 'stray-row' | undefined,
};

interface Session {
  closed: boolean;
}

/** Fails loudly if the suite hands a manager a session it already closed. */
function live(session: Session | undefined): Session {
  if (!session || session.closed) throw new Error('called with a closed or missing session');
  return session;
}

const fakeAsync = defineManager<{ endpoint: string; apiKey: string }, JsonObject, Session>({
  name: 'fake-async',
  description: 'In-memory bulk-import vendor for testing the conformance suite.',
  configSchema: configSchema({
    endpoint: f.string({ doc: 'Where the fake vendor lives.' }),
    apiKey: f.string({ doc: 'Fake credential.', secret: true }),
  }),
  createSession: (): Session => ({ closed: false }),
  closeSession: async (session) => {
    session.closed = true;
  },
  transform: ({ event }) => {
    if (typeof event.email !== 'string') throw new PermanentError('event needs a string "email"');
    return { email: event.email, reject: event.reject === true };
  },
  async upload(batch, ctx) {
    if (batch.jobIds.length === 0) return { outcomes: [] };
    if (ctx.signal.aborted) throw new RetryableError('cancelled');
    live(ctx.session);
    vendor.calls += 1;
    const rows: VendorImport['rows'] = [];
    const jobs: Array<{ jobId: string; correlationKey: string }> = [];
    for await (const { jobId, row } of batch.rows()) {
      const key = `row-${rows.length}`;
      rows.push({ key, reject: row.reject === true });
      jobs.push({ jobId, correlationKey: key });
    }
    const importId = `imp-${++vendor.seq}`;
    const listed = rows.filter((row) => row.reject).map((row) => row.key);
    const failedCount = listed.length + (vendor.misreport ? 1 : 0);
    if (vendor.misreport === 'stray-row') listed.push('row-that-matches-no-job');
    vendor.imports.set(importId, { rows, done: false, failedCount, listed });
    return { outcomes: [], imports: [{ handle: { importId }, jobs }] };
  },
  async poll(open, ctx) {
    live(ctx.session);
    const id = open.handle.importId;
    const found = typeof id === 'string' ? vendor.imports.get(id) : undefined;
    if (!found) return { status: 'failed', retryable: false, reason: `vendor has no import ${JSON.stringify(open.handle)}` };
    if (!found.done) return { status: 'in_progress', retryAfterMs: 10 };
    return { status: 'completed', hasRecordFailures: found.failedCount > 0 };
  },
  async getUploadStats(open, jobs, ctx) {
    live(ctx.session);
    const found = vendor.imports.get(String(open.handle.importId));
    const listed = new Set(found?.listed);
    const matched = jobs.filter((job) => listed.has(job.correlationKey ?? '')).length;
    // Unlisted jobs count as delivered only when the listing accounts for the vendor's whole total.
    const consistent = found !== undefined && matched === found.failedCount && matched === listed.size;
    return jobs.map((job) =>
      listed.has(job.correlationKey ?? '')
        ? { jobId: job.jobId, kind: 'aborted' as const, reason: 'vendor rejected the row' }
        : consistent
          ? { jobId: job.jobId, kind: 'succeeded' as const }
          : { jobId: job.jobId, kind: 'retry' as const, reason: 'vendor totals and listing disagree; outcome unconfirmed', code: ERROR_CODES.outcomeUnconfirmed },
    );
  },
});

runManagerConformance({
  manager: fakeAsync,
  variant: 'self-test',
  async setup() {
    return {
      config: { endpoint: 'memory://vendor', apiKey: 'fake-secret-key' },
      completeImports: async () => {
        for (const found of vendor.imports.values()) found.done = true;
      },
      vendorCalls: async () => vendor.calls,
      misreport: async (mode) => {
        vendor.misreport = mode;
      },
      cleanup: async () => {
        vendor.misreport = undefined;
      },
    };
  },
  sampleEvents: (n) => Array.from({ length: n }, (_, i) => ({ email: `u${i}@example.com`, reject: i % 4 === 0 })),
  badEvent: { name: 'no email' },
});
