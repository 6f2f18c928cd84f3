/**
 * A manager whose behaviour each test scripts, for exercising the router itself. It records
 * every upload call (id, attempt, job ids, timing) so tests can assert on what was sent.
 */
import { defineManager } from '../../src/manager/define.ts';
import { configSchema } from '../../src/manager/config-schema.ts';
import { PermanentError } from '../../src/manager/errors.ts';
import type {
  CallContext,
  ImportedJob,
  JobOutcome,
  JsonObject,
  Manager,
  ManagerDefinition,
  OpenImport,
  PollResult,
  SessionServices,
  UploadBatch,
  UploadResult,
} from '../../src/manager/contract.ts';
import { TUNING_DEFAULTS, type Tuning } from '../../src/tuning.ts';
import type { ActiveDestination } from '../../src/router/types.ts';
import { silentLog } from './router.ts';

export interface RecordedUpload {
  uploadId: string;
  attempt: number;
  jobIds: string[];
  rows: JsonObject[];
  /** The staged JSON text of each row, as the manager received it. */
  texts: string[];
  startedAt: number;
  endedAt?: number;
}

export interface Script {
  upload?(batch: UploadBatch<JsonObject>, ctx: CallContext<unknown>, rows: JsonObject[]): Promise<UploadResult>;
  poll?(open: OpenImport, ctx: CallContext<unknown>): Promise<PollResult>;
  getUploadStats?(open: OpenImport, jobs: readonly ImportedJob[], ctx: CallContext<unknown>): Promise<readonly JobOutcome[]>;
  limits?: ManagerDefinition['limits'];
  /** No transform: the router stages each event's stored text as the row (the webhook's path). */
  passThrough?: boolean;
}

export function scriptedManager(script: Script = {}, name = 'scripted'): { manager: Manager; uploads: RecordedUpload[] } {
  const uploads: RecordedUpload[] = [];
  const manager = defineManager<unknown, JsonObject>({
    name,
    description: 'test manager scripted per test',
    configSchema: configSchema({}),
    ...(script.limits ? { limits: script.limits } : {}),
    ...(script.passThrough ? {} : {
      transform({ event }: { event: JsonObject }) {
        if (event.bad === true) throw new PermanentError('field "bad" is set: this event cannot be delivered');
        return event;
      },
    }),
    async upload(batch, ctx) {
      const rows: JsonObject[] = [];
      const texts: string[] = [];
      for await (const staged of batch.rows()) {
        rows.push(staged.row);
        texts.push(staged.json);
      }
      const record: RecordedUpload = { uploadId: batch.uploadId, attempt: batch.uploadAttempt, jobIds: [...batch.jobIds], rows, texts, startedAt: Date.now() };
      uploads.push(record);
      try {
        if (script.upload) return await script.upload(batch, ctx, rows);
        return { outcomes: batch.jobIds.map((jobId) => ({ jobId, kind: 'succeeded' as const })) };
      } finally {
        record.endedAt = Date.now();
      }
    },
    ...(script.poll ? { poll: script.poll } : {}),
    ...(script.getUploadStats ? { getUploadStats: script.getUploadStats } : {}),
  });
  return { manager, uploads };
}

/**
 * A destination served by `manager`, with fast tunables suited to tests. `rawConfig` goes through
 * the manager's configSchema and `createSession`, as the daemon does at start.
 */
export function testDestination(
  manager: Manager,
  id = 'dest-1',
  tuning: Partial<Tuning> = {},
  rawConfig: unknown = {},
  secrets: readonly string[] = [],
  services: SessionServices = {},
): ActiveDestination {
  const config = manager.configSchema.parse(rawConfig);
  return {
    id,
    manager,
    config,
    session: manager.createSession?.(config, id, silentLog, services),
    secrets,
    tuning: {
      ...TUNING_DEFAULTS,
      uploadIntervalMs: 0,
      pollIntervalMs: 20,
      minBackoffMs: 10,
      maxBackoffMs: 50,
      ...tuning,
    },
  };
}
