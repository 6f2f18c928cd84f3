/**
 * Starting and stopping the HTTP API: the keys decide the bind address (no key configured →
 * loopback only, said loudly), then the server listens and the callback loop starts. `stop()`
 * ends long waits and SSE streams first, so closing never waits on a client, then the loop.
 */
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { RateLimiter } from './auth.ts';
import { CallbackPolicy } from './callbacks/allow-list.ts';
import { createCallbackLoop } from './callbacks/loop.ts';
import { retryAfterEstimator, type ApiContext, type ApiDeps } from './context.ts';
import { Followers } from './followers.ts';
import { HoldLimits } from './holds.ts';
import { KeysStore } from './keys-store.ts';
import { ApiMetrics } from './metrics.ts';
import { buildApiServer } from './server.ts';

export type { ApiDeps } from './context.ts';

export interface RunningApi {
  readonly app: FastifyInstance;
  /** `http://host:port`, with the port actually bound (PORT=0 picks one). */
  readonly url: string;
  stop(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** The bind address: the configured one with keys; without keys, loopback whatever was configured. */
function bindHost(deps: ApiDeps, startedWithKeys: boolean): string {
  const configured = deps.config.apiHost;
  if (startedWithKeys) return configured || '0.0.0.0';
  if (configured && !LOOPBACK.has(configured)) {
    deps.log.warn({ apiHost: configured }, 'BATCH_ROUTER_API_HOST is ignored while no API key exists: an open API is only served on loopback');
  }
  return configured && LOOPBACK.has(configured) ? configured : '127.0.0.1';
}

export async function startApi(deps: ApiDeps): Promise<RunningApi> {
  const { config, log } = deps;
  const keys = new KeysStore(config.apiKeysFile, (error) => log.error({ err: error }, 'API keys file could not be reloaded; the keys in force stay'));
  const startedWithKeys = keys.active().length > 0;
  const host = bindHost(deps, startedWithKeys);
  if (!startedWithKeys) {
    log.warn({ keysFile: config.apiKeysFile, host },
      'no API keys configured: the API accepts every request, so it listens on loopback only; create a key with "batch-router keys create"');
  }
  const stopping = new AbortController();
  const ctx: ApiContext = {
    ...deps, keys, stopping: stopping.signal, retryAfterSeconds: retryAfterEstimator(deps.db),
    followers: new Followers(config.ssePollMs, log, stopping.signal),
    holds: new HoldLimits(config.apiMaxStreamsPerKey, config.apiMaxStreams),
  };
  const policy = new CallbackPolicy(config.callbackAllowList, config.nodeEnv === 'development');
  const metrics = new ApiMetrics();
  metrics.observeStreams(() => ({ open: ctx.holds.open, followed: ctx.followers.size, reads: ctx.followers.reads }));
  const limiter = new RateLimiter(config.apiRateLimit, config.apiRateBurst, deps.now);
  const app = await buildApiServer(ctx, { policy, metrics, limiter, startedWithKeys });
  try {
    await app.listen({ host, port: config.port });
  } catch (error) {
    await app.close();
    throw new Error(`the API could not listen on ${host}:${config.port}: ${(error as Error).message}`, { cause: error });
  }
  const address = app.server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  const loop = createCallbackLoop({ db: deps.db, log, config, policy, metrics, owner: `${config.workerId}:callbacks` });
  loop.start();
  log.info({ url, keys: keys.active().length, callbacks: config.callbackSecret ? 'signed' : 'disabled (no BATCH_ROUTER_CALLBACK_SECRET)' }, 'API listening');

  let stopped: Promise<void> | undefined;
  return {
    app,
    url,
    stop: () =>
      (stopped ??= (async () => {
        // Ends every SSE stream, shared reader and Prefer: wait at once.
        stopping.abort();
        await app.close();
        await loop.stop();
        log.info('API stopped');
      })()),
  };
}
