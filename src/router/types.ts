import type { Logger } from 'pino';
import type { Kysely } from 'kysely';
import type { Manager } from '../manager/contract.ts';
import type { Database } from '../db/schema.ts';
import type { Tuning } from '../tuning.ts';

/** A destination the router is serving: a valid, enabled entry with its manager session. */
export interface ActiveDestination {
  readonly id: string;
  readonly manager: Manager;
  readonly config: unknown;
  readonly tuning: Tuning;
  /** Per-process manager state (token cache, connections), from `manager.createSession`. */
  readonly session: unknown;
  /** Secret strings of this destination's config, scrubbed from every stored error. */
  readonly secrets: readonly string[];
}

/** What the router's parts share. */
export interface RouterContext {
  readonly db: Kysely<Database>;
  readonly log: Logger;
  readonly workerId: string;
  readonly leaseMs: number;
  readonly stagingDir: string;
  /** Uploads whose rows total at most this many bytes are staged in memory, not in a file. */
  readonly stagingMemoryBytes: number;
  /** Aborted when shutdown's grace period is over: in-flight manager calls must give up. */
  readonly hardStop: AbortSignal;
}
