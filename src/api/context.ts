/**
 * What the API's routes share: the database, the destinations file as loaded at start, the
 * router of this process (absent with `--api-only`), settings, and the helpers that several
 * resources need (destination lookup by visibility, the `Retry-After` estimate).
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { AppConfig } from '../config.ts';
import type { Database } from '../db/schema.ts';
import { typicalUploadSeconds } from '../store/uploads.reporting.ts';
import type { Destination } from '../destinations.ts';
import { intakeRefusal } from '../destination-intake.ts';
import type { LoopStatus } from '../util/loop.ts';
import { canSee, type Principal } from './auth.ts';
import { ApiError, notFound } from './errors.ts';
import type { KeysStore } from './keys-store.ts';
import type { Followers } from './followers.ts';
import type { HoldLimits } from './holds.ts';

/** The part of the Router the API uses; a structural type so tests can pass a stub. */
export interface RouterHandle {
  status(): LoopStatus[];
  nudge(destinationId: string): void;
}

export interface ApiDeps {
  db: Kysely<Database>;
  log: Logger;
  config: AppConfig;
  destinations: readonly Destination[];
  router?: RouterHandle | undefined;
  /** Clock of the per-key rate limit; tests pass one they move by hand (default: Date.now). */
  now?: (() => number) | undefined;
}

export interface ApiContext extends ApiDeps {
  keys: KeysStore;
  /** Shared readers of followed resources (SSE). */
  followers: Followers;
  /** Per-key and per-process limits on SSE streams and Prefer: wait holds. */
  holds: HoldLimits;
  /** Aborted when the API stops: long waits (Prefer: wait, SSE) end at once. */
  stopping: AbortSignal;
  retryAfterSeconds(destination: Destination): Promise<number>;
}

/** The destination if this caller may see it; 404 otherwise, whether it exists or not. */
export function visibleDestination(ctx: ApiContext, principal: Principal, id: string): Destination {
  const destination = ctx.destinations.find((d) => d.id === id);
  if (!destination || !canSee(principal, id)) throw notFound(`destination "${id}"`);
  return destination;
}

/** Accepting events needs an enabled destination with a valid config (else 409, by the rule `enqueue` shares). */
export function acceptingDestination(ctx: ApiContext, principal: Principal, id: string): Destination {
  const destination = visibleDestination(ctx, principal, id);
  const refusal = intakeRefusal(destination);
  // The entry's problem text names server files and settings: producers get the fix, the log the detail.
  if (refusal) throw new ApiError(409, refusal.code, refusal.problem ? `${refusal.message}; the daemon log names the problem` : refusal.message);
  return destination;
}

/**
 * `Retry-After` for a submit: the median time of the destination's recent uploads (send plus
 * vendor import), cached for 30 s per destination; before any history, the batching delay plus
 * one poll interval. Clamped to 1 s – 1 h so a client neither hammers nor gives up.
 */
export function retryAfterEstimator(db: Kysely<Database>): (destination: Destination) => Promise<number> {
  const cache = new Map<string, { seconds: number; at: number }>();
  return async (destination) => {
    const hit = cache.get(destination.id);
    if (hit && Date.now() - hit.at < 30_000) return hit.seconds;
    const typical = await typicalUploadSeconds(db, destination.id);
    const pollMs = destination.manager?.fireAndForget ? 0 : destination.tuning.pollIntervalMs;
    const fallback = (destination.tuning.uploadIntervalMs + pollMs) / 1000;
    const seconds = Math.min(3600, Math.max(1, Math.ceil(typical ?? fallback)));
    cache.set(destination.id, { seconds, at: Date.now() });
    return seconds;
  };
}
