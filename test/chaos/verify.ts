/**
 * The chaos run's verdict, read from the database and the receivers: every job final, none
 * stuck, nothing lost, every succeeded job received, every aborted job with a reason (the
 * vendor's, for rejected rows), API submissions accepted exactly once, duplicates per destination.
 */
import pg from 'pg';
import { DESTINATION_IDS, REJECTING, type DestinationId, type Receivers } from './destinations.ts';
import { isRejectEvent } from './events.ts';
import type { ApiSubmission, CliEnqueue } from './producers.ts';

export interface DestinationVerdict {
  destination: DestinationId;
  produced: number;
  succeeded: number;
  aborted: number;
  /** Jobs not in a final state when the run ended. */
  stuck: number;
  /** Events produced but not stored, or succeeded but never received. */
  lost: number;
  abortedWithoutReason: number;
  /** Rejected rows not aborted with the vendor's reason, or accepted rows aborted. */
  wrongOutcome: number;
  /** Events a receiver got (accepted, for async-ops) more than once. */
  duplicates: number;
  /** Events the async-ops service accepted under two different Idempotency-Keys: must be 0. */
  acceptedUnderTwoKeys: number;
  examples: string[];
}

export interface Verdict {
  destinations: DestinationVerdict[];
  /** API keys answered with more than one submission id, or stored more than once. */
  idempotencyBreaches: number;
  /** Events enqueued by a CLI run that failed and was re-run, stored twice. */
  cliRerunDuplicates: number;
}

interface JobRow { destination_id: string; state: string; reason: string | null; event_id: string; email: string; submission_id: string | null }

export async function verify(databaseUrl: string, receivers: Receivers, api: ApiSubmission[], cli: CliEnqueue[]): Promise<Verdict> {
  const client = new pg.Client(databaseUrl);
  await client.connect();
  let rows: JobRow[];
  let keys: Array<{ idempotency_key: string; submission_id: string }>;
  try {
    rows = (await client.query<JobRow>(`SELECT j.destination_id, j.state, j.reason, j.submission_id,
        p.payload::json->>'id' AS event_id, p.payload::json->>'email' AS email
      FROM br_jobs j JOIN br_job_payloads p ON p.job_id = j.id`)).rows;
    keys = (await client.query(`SELECT idempotency_key, submission_id FROM br_idempotency_keys`)).rows;
  } finally {
    await client.end();
  }

  const stored = new Map<string, JobRow[]>();
  for (const row of rows) stored.set(row.event_id, [...(stored.get(row.event_id) ?? []), row]);
  const produced = [...api.map((s) => s.batch), ...cli.map((c) => c.batch)];

  const destinations = DESTINATION_IDS.map((destination): DestinationVerdict => {
    const received = receivers.received(destination);
    const v: DestinationVerdict = { destination, produced: 0, succeeded: 0, aborted: 0, stuck: 0, lost: 0, abortedWithoutReason: 0, wrongOutcome: 0, duplicates: received.duplicates, acceptedUnderTwoKeys: received.acceptedUnderTwoKeys ?? 0, examples: [] };
    const note = (text: string) => v.examples.length < 5 && v.examples.push(text);
    for (const batch of produced.filter((b) => b.destination === destination)) {
      for (const event of batch.events) {
        v.produced += 1;
        const jobs = stored.get(event.id) ?? [];
        if (jobs.length === 0) {
          v.lost += 1;
          note(`${event.id}: never stored`);
        }
        for (const job of jobs) {
          if (job.state === 'succeeded') {
            v.succeeded += 1;
            if (!received.ids.has(event.id)) {
              v.lost += 1;
              note(`${event.id}: succeeded but not received`);
            }
          } else if (job.state === 'aborted') {
            v.aborted += 1;
            if (!job.reason) v.abortedWithoutReason += 1;
          } else if (job.state !== 'cancelled') {
            v.stuck += 1;
            note(`${event.id}: still ${job.state}`);
          }
          const vendorReason = REJECTING[destination];
          const rightOutcome = isRejectEvent(event)
            ? job.state === 'aborted' && vendorReason !== undefined && (job.reason ?? '').includes(vendorReason)
            : job.state === 'succeeded';
          if (!rightOutcome && (job.state === 'succeeded' || job.state === 'aborted')) {
            v.wrongOutcome += 1;
            note(`${event.id}: ${job.state} (${job.reason ?? 'no reason'})`);
          }
        }
      }
    }
    return v;
  });

  const submissionOfKey = new Map(keys.map((k) => [k.idempotency_key, k.submission_id]));
  let idempotencyBreaches = 0;
  for (const s of api) {
    const stores = new Set(s.batch.events.flatMap((e) => (stored.get(e.id) ?? []).map((j) => j.submission_id)));
    const expected = submissionOfKey.get(s.key);
    if (s.submissionIds.size !== 1 || stores.size !== 1 || !expected || !s.submissionIds.has(expected) || !stores.has(expected)) idempotencyBreaches += 1;
  }
  const cliRerunDuplicates = cli.flatMap((c) => c.batch.events).filter((e) => (stored.get(e.id)?.length ?? 0) > 1).length;
  return { destinations, idempotencyBreaches, cliRerunDuplicates };
}
