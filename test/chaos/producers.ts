/**
 * Producers of a chaos run. The API producer posts batches with an Idempotency-Key to a random
 * daemon and, on a connection error or 5xx (the daemon was just killed, PostgreSQL is
 * restarting), re-sends the same body with the same key to another one, as a careful client does.
 * The CLI producer runs `batch-router enqueue` and re-runs it when it fails.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startCli } from '../cli/cli-runner.ts';
import type { Daemon } from './daemons.ts';
import { makeBatch, type EventBatch } from './events.ts';

export interface ApiSubmission {
  readonly key: string;
  readonly batch: EventBatch;
  /** Submission ids answered across all tries; exactly-once means they are all the same. */
  readonly submissionIds: Set<string>;
  tries: number;
}

export interface CliEnqueue {
  readonly batch: EventBatch;
  tries: number;
  /** Runs that failed: some of their events may have been stored before the failure. */
  failedRuns: number;
}

export async function submitViaApi(daemons: readonly Daemon[], batchNo: number, size: number, random: () => number): Promise<ApiSubmission> {
  const batch = makeBatch('api', batchNo, size);
  const submission: ApiSubmission = { key: `chaos-batch-${batchNo}`, batch, submissionIds: new Set(), tries: 0 };
  const body = JSON.stringify({ events: batch.events });
  for (;;) {
    submission.tries += 1;
    const daemon = daemons[Math.floor(random() * daemons.length)]!;
    const answer = await fetch(`${daemon.apiUrl}/v1/destinations/${batch.destination}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': submission.key },
      body,
      signal: AbortSignal.timeout(30_000),
    }).then(async (res) => ({ status: res.status, json: (await res.json().catch(() => ({}))) as { submissionId?: string } }), () => undefined);
    if (answer && answer.status < 300) {
      const id = answer.json.submissionId;
      if (id) submission.submissionIds.add(String(id));
      return submission;
    }
    // A 4xx other than 409 (key in flight) or 429 would be a bug the retries cannot fix.
    if (answer && answer.status >= 400 && answer.status < 500 && answer.status !== 409 && answer.status !== 429) {
      throw new Error(`API refused chaos batch ${batchNo} with ${answer.status}: ${JSON.stringify(answer.json)}`);
    }
    if (submission.tries > 200) throw new Error(`API batch ${batchNo} still failing after 200 tries`);
    await delay(200 + random() * 300);
  }
}

export async function enqueueViaCli(env: Record<string, string>, dir: string, batchNo: number, size: number): Promise<CliEnqueue> {
  const batch = makeBatch('cli', batchNo, size);
  const file = join(dir, `cli-batch-${batchNo}.ndjson`);
  writeFileSync(file, batch.events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const result: CliEnqueue = { batch, tries: 0, failedRuns: 0 };
  for (;;) {
    result.tries += 1;
    const run = await startCli(['enqueue', batch.destination, file, '--json'], env).exited;
    if (run.code === 0) return result;
    result.failedRuns += 1;
    if (result.tries > 30) throw new Error(`CLI enqueue of batch ${batchNo} still failing: ${run.stderr}`);
    await delay(500);
  }
}
