/**
 * System "batch-router-marketo": the same job store and daemon as batch-router-webhook, delivering
 * through the `marketo-bulk-upload` manager into the Marketo fake (bench/marketo-sink-process.ts):
 * each upload is a CSV file sent as one bulk import, polled until Marketo reports it Complete, then
 * its jobs are final. The fake completes an import on its first status check and fails no row, so
 * the figure is the daemon's cost of the bulk life (stage, CSV, multipart upload, poll, record),
 * not Marketo's import time.
 *
 * Tuning (frozen): 50,000 events per upload (the manager's default; one CSV file of ~3 MB, far
 * under the 10 MB limit), two uploads in flight, a 50 ms upload interval (only the last, partial
 * batch waits for it) and a 50 ms poll interval, because the fake answers at once: the production
 * 10 s poll interval would measure only waiting. Everything else is the manager's default.
 */
import type { BurnDownSystem } from '../lib/types.ts';
import { DAEMON_ENV, prepare } from './batch-router-webhook.ts';

export const MARKETO_TUNING: Readonly<Record<string, number>> = Object.freeze({
  maxEventsPerUpload: 50_000,
  uploadConcurrency: 2,
  uploadIntervalMs: 50,
  pollIntervalMs: 50,
});

/** Event id → the lookup column, so the fake can count unique ids; two more mapped columns. */
export const MARKETO_FIELD_MAPPING = Object.freeze({ id: 'email', userId: 'firstName', 'properties.orderId': 'company' });

export function batchRouterMarketo(tuningOverrides: Readonly<Record<string, number>> = {}): BurnDownSystem {
  const tuning = { ...MARKETO_TUNING, ...tuningOverrides };
  return {
    name: 'batch-router-marketo',
    ingestName: 'batch-router-enqueue (marketo)',
    sinkScript: 'marketo-sink-process.ts',
    settings: {
      destination: { manager: 'marketo-bulk-upload', fieldMapping: MARKETO_FIELD_MAPPING, tuning },
      receiver: 'managers/marketo-bulk-upload/test/marketo-fake.ts, autoCompleteAfterPolls: 1',
      daemonEnv: DAEMON_ENV,
    },
    prepare: (databaseUrl) =>
      prepare(databaseUrl, tuning, {
        manager: 'marketo-bulk-upload',
        // The fake's default credentials (MarketoFake.config()).
        config: (url) => ({
          restEndpoint: `${url}/rest`,
          identityEndpoint: `${url}/identity`,
          clientId: 'fake-client-id',
          clientSecret: 'fake-client-secret-51c0',
          fieldMapping: MARKETO_FIELD_MAPPING,
        }),
      }),
  };
}
