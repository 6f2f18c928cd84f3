/**
 * The chaos run's destinations: one per kind of receiver, each fake armed with the faults its
 * vendor really produces. Events carry `id` (unique per run) and `email`; an email starting with
 * `reject` is refused row by row by the vendors that judge rows, with a reason the suite then
 * expects on the aborted job.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAsyncOpsFake, startFakeSftpServer, startHttpSink, startMarketoFake, startSalesforceFake, type AsyncOpsFake, type SinkStep } from './fakes.ts';

export const MARKETO_REASON = 'Invalid email address (chaos)';
export const SALESFORCE_REASON = 'INVALID_EMAIL_ADDRESS:Email: invalid email address: chaos';
export const ASYNC_REJECT_CODE = 'CHAOS_REJECTED';

/** Destination ids, in the order events are spread over them. */
export const DESTINATION_IDS = ['hook', 'marketo', 'salesforce', 'sftp', 'async-ops'] as const;
export type DestinationId = (typeof DESTINATION_IDS)[number];

/** Destinations whose vendor rejects single rows, and the reason it gives. */
export const REJECTING: Partial<Record<DestinationId, string>> = {
  marketo: MARKETO_REASON,
  salesforce: SALESFORCE_REASON,
  'async-ops': ASYNC_REJECT_CODE,
};

export interface Received {
  readonly ids: Set<string>;
  readonly duplicates: number;
  /** Events a vendor that dedupes by Idempotency-Key accepted under more than one key (async-ops only). */
  readonly acceptedUnderTwoKeys?: number;
}

export interface Receivers {
  /** The destinations file entries pointing at the fakes. */
  readonly destinations: unknown[];
  /** Event ids a receiver holds (delivered at least once), and how many arrived more than once. */
  received(destination: DestinationId): Received;
  /** Arms a random vendor-side fault that is not the receivers' steady fault rate. */
  injectFault(random: () => number): string;
  close(): Promise<void>;
}

const rejected = (row: Record<string, string>, column: string) => (row[column] ?? '').startsWith('reject');

export async function startReceivers(): Promise<Receivers> {
  const hook = await startHttpSink({ seed: 7 });
  // A steady mix of the faults webhook receivers really produce.
  hook.failWith(0.15, (random): SinkStep => {
    const r = random();
    if (r < 0.3) return { status: 503 };
    if (r < 0.45) return { reset: 'before' };
    if (r < 0.6) return { reset: 'after' };
    if (r < 0.8) return { status: 429, retryAfter: 1 };
    return { delayMs: 1500 };
  });
  const marketo = await startMarketoFake({
    autoCompleteAfterPolls: 2, queueLimit: 3, tokenTtlSeconds: 3600, rateLimit: { calls: 100_000, windowMs: 20_000 },
    rowOutcome: (row) => (rejected(row, 'email') ? { fail: MARKETO_REASON } : undefined),
  });
  const salesforce = await startSalesforceFake({
    autoCompleteAfterPolls: 2,
    rowOutcome: (row) => (rejected(row, 'Email') ? { error: SALESFORCE_REASON } : undefined),
  });
  // Marketo works through its import queue by itself; the fake advances an import only when it is
  // polled, so imports orphaned by a kill (created, but the batch id never stored) would hold the
  // queue full (1016) forever. The chaos run found exactly that livelock; this stands in for the vendor.
  const drainQueue = setInterval(() => marketo.completeAll(), 5000);
  const sftp = await startFakeSftpServer();
  const ops = await startAsyncOpsFake({ answer: 'items' });

  // The fake's queue drains every 5 s (drainQueue above), so wait about that long after a 1016,
  // not Marketo's default minute: an injected "queue full" fault answers 1016 to the next three
  // upload calls, and when they all fall on the last batch still pending, three one-minute snoozes
  // fill the whole settle window (180 s) and the run fails on time alone, however correct the store.
  const destinations = [
    { id: 'hook', manager: 'webhook', config: { url: `${hook.url}/events`, timeoutMs: 1000 }, tuning: { maxEventsPerUpload: 500 } },
    { id: 'marketo', manager: 'marketo-bulk-upload', config: { ...marketo.config(), queueFullRetryMs: 5000 }, tuning: { maxEventsPerUpload: 2000, pollIntervalMs: 300 } },
    { id: 'salesforce', manager: 'salesforce-bulk', config: salesforce.config(), tuning: { maxEventsPerUpload: 2000, pollIntervalMs: 300 } },
    { id: 'sftp', manager: 'sftp', config: sftp.config({ pathTemplate: 'drop/{destinationId}-{uploadId}.ndjson', format: 'ndjson' }), tuning: { maxEventsPerUpload: 2000 } },
    { id: 'async-ops', manager: 'async-http', config: { baseUrl: ops.url, pollIntervalMs: 300 }, tuning: { maxEventsPerUpload: 500, pollIntervalMs: 300 } },
  ];

  return {
    destinations,
    received(destination) {
      switch (destination) {
        case 'hook':
          return { ids: hook.receivedIds(), duplicates: hook.stats().duplicates };
        case 'marketo':
          return tally([...marketo.imports.values()].flatMap((imp) => imp.records.map((r) => idOfEmail(r.email ?? ''))));
        case 'salesforce':
          return tally([...salesforce.jobs.values()].flatMap((job) => job.rows.map((row) => idOfEmail(row[job.header.indexOf('Email')] ?? ''))));
        case 'sftp':
          return tally(sftpIds(join(sftp.root, 'drop')));
        case 'async-ops':
          return acceptedOperations(ops.requests());
      }
    },
    injectFault(random) {
      const r = random();
      if (r < 0.25) {
        marketo.expireTokens();
        salesforce.expireTokens();
        return 'expired tokens';
      }
      if (r < 0.5) {
        marketo.failWith('upload', '1016', 'Too many imports', 3);
        return 'marketo queue full';
      }
      if (r < 0.75) {
        ops.script('submit', { status: 429, retryAfter: 1 }, { status: 503 });
        return 'async-ops 429/503';
      }
      marketo.failWith('status', '602', 'Access token expired', 2);
      return 'marketo 602 on status';
    },
    async close() {
      clearInterval(drainQueue);
      await Promise.allSettled([hook.close(), marketo.close(), salesforce.close(), sftp.close(), ops.close()]);
    },
  };
}

/**
 * What the async-operations service executed: submits it answered 2xx, not replays of a key it had
 * already answered, and not the 429/503 refusals (those did nothing, so a resend is no duplicate).
 * An event accepted under two keys means the router re-sent it under a new key: the service could
 * not have dropped the repeat, so the suite counts that as a breach of its own.
 */
function acceptedOperations(requests: ReturnType<AsyncOpsFake['requests']>): Received {
  const keysOfEvent = new Map<string, Set<string>>();
  const ids: string[] = [];
  for (const r of requests) {
    if (r.method !== 'POST' || r.replayed || r.status === undefined || r.status < 200 || r.status > 299) continue;
    for (const op of (JSON.parse(r.body) as { operations: Array<{ id: string }> }).operations) {
      const id = String(op.id);
      ids.push(id);
      keysOfEvent.set(id, (keysOfEvent.get(id) ?? new Set()).add(String(r.headers['idempotency-key'])));
    }
  }
  return { ...tally(ids), acceptedUnderTwoKeys: [...keysOfEvent.values()].filter((keys) => keys.size > 1).length };
}

function tally(ids: string[]): Received {
  const set = new Set(ids);
  return { ids: set, duplicates: ids.length - set.size };
}

const idOfEmail = (email: string) => email.replace(/@.*$/, '').replace(/^reject-/, '');

function sftpIds(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  // Only published files: a kill can leave a temp file behind that was never renamed into place.
  return names.filter((n) => n.endsWith('.ndjson')).flatMap((n) =>
    readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean).map((line) => String((JSON.parse(line) as { id: string }).id)));
}
