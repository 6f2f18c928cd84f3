/**
 * `batch-router start`: wires configuration, database, managers and destinations into a running
 * router, and turns SIGTERM/SIGINT into a graceful stop. Returns a handle so tests (and the API,
 * which runs in the same process) can stop it without signals.
 */
import type { Logger } from 'pino';
import type { AppConfig } from './config.ts';
import { openDatabase, type DatabaseHandle } from './db/connect.ts';
import { migrateToLatest } from './db/migrate.ts';
import { loadDestinations, type Destination } from './destinations.ts';
import { toError } from './manager/errors.ts';
import { loadManagers, defaultManagersDir, type ManagerRegistry } from './manager/registry.ts';
import { Router } from './router/router.ts';
import type { ActiveDestination } from './router/types.ts';

export interface DaemonOptions {
  config: AppConfig;
  env: Readonly<Record<string, string>>;
  log: Logger;
  /** Defaults to the repo's `managers/`; tests point it elsewhere to check discovery errors. */
  managersDir?: string;
  /** Managers already loaded by the caller (`start` loads them first to check the environment); then `managersDir` is not read. */
  managers?: ManagerRegistry;
  /** An already open database (tests); otherwise opened from `config`. */
  database?: DatabaseHandle;
  /** false: load destinations and open the database but run no router (`start --api-only`). */
  runRouter?: boolean;
}

export interface Daemon {
  /** Undefined when started with `runRouter: false`. */
  readonly router: Router | undefined;
  readonly database: DatabaseHandle;
  readonly destinations: readonly Destination[];
  /** Graceful stop: drains uploads, closes manager sessions and (if we opened it) the database. */
  stop(): Promise<void>;
}

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const { config, log } = options;
  const registry = options.managers ?? (await loadManagers(options.managersDir ?? defaultManagersDir));
  const loaded = loadDestinations(config.destinationsFile, registry, options.env);
  if (loaded.fileError) log.warn(loaded.fileError);
  for (const d of loaded.destinations) {
    if (!d.valid) log.error({ destinationId: d.id }, d.error ?? 'invalid destination');
    else if (!d.enabled) log.info({ destinationId: d.id }, 'destination disabled; its jobs wait');
    for (const note of d.notes) log.warn({ destinationId: d.id }, note);
  }

  const database =
    options.database ??
    (await openDatabase({
      databaseUrl: config.databaseUrl || undefined,
      dataDir: config.dataDir,
      embeddedPort: config.embeddedPort,
      preparedStatements: config.preparedStatements,
      poolSize: config.dbPoolSize,
      role: 'daemon',
      log,
    }));
  try {
    if (config.autoMigrate) await migrateToLatest(database.db, log);
  } catch (error) {
    if (!options.database) await database.close();
    throw error;
  }

  const active: ActiveDestination[] = [];
  for (const d of loaded.destinations) {
    // An API-only process delivers nothing, so it opens no manager sessions.
    if (!d.valid || !d.enabled || !d.manager || options.runRouter === false) continue;
    const manager = d.manager;
    const session = manager.createSession?.(d.config, d.id, log.child({ destinationId: d.id }), { db: database.db });
    active.push({ id: d.id, manager, config: d.config, tuning: d.tuning, session, secrets: d.secrets });
  }
  const broken = loaded.destinations
    .filter((d) => !d.valid && d.enabled && d.manager)
    .map((d) => ({ id: d.id, error: d.error ?? 'destination config is invalid' }));

  const router = options.runRouter === false ? undefined : new Router({
    db: database.db,
    log,
    workerId: config.workerId,
    stagingDir: config.stagingDir,
    stagingMemoryBytes: config.stagingMemoryBytes,
    leaseMs: config.leaseMs,
    heartbeatMs: config.heartbeatMs,
    idlePollMs: config.idlePollMs,
    // On the embedded database too: its wire server routes each NOTIFY to the LISTENing client.
    arrivals: config.arrivalListen && database.dedicatedClient
      ? { connect: database.dedicatedClient, safetyPollMs: config.arrivalSafetyPollMs }
      : undefined,
    sweepIntervalMs: config.sweepIntervalMs,
    shutdownGraceMs: config.shutdownGraceMs,
    retentionMaxAgeMs: config.retentionMaxAgeMs,
    retentionBatchSize: config.retentionBatchSize,
    destinations: active,
    broken,
  });
  router?.start();
  const role = router ? 'router' : 'no router (api-only)';
  log.info({ database: database.displayUrl, embedded: database.embedded, managers: [...registry.keys()], role }, 'batch-router is running');

  let stopping: Promise<void> | undefined;
  return {
    router,
    database,
    destinations: loaded.destinations,
    stop: () =>
      (stopping ??= (async () => {
        await router?.stop();
        for (const d of active) {
          await d.manager.closeSession?.(d.session).catch((error) => log.warn({ err: toError(error), destinationId: d.id }, 'closing session failed'));
        }
        if (!options.database) await database.close();
      })()),
  };
}

/** Runs until SIGTERM/SIGINT, then stops gracefully; a second signal exits at once. */
/**
 * Logged once SIGTERM/SIGINT stop the process gracefully; a signal before it (during start-up)
 * still has Node's default effect. Supervisors and tests wait for it before signalling.
 */
export const RUNNING_MESSAGE = 'running: SIGTERM or SIGINT stops it gracefully';

export async function runUntilSignalled(daemon: Daemon, log: Logger): Promise<void> {
  await new Promise<void>((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) {
        log.warn({ signal }, 'second signal: exiting without waiting');
        process.exit(130);
      }
      signalled = true;
      log.info({ signal }, 'stopping: no new claims, finishing in-flight uploads');
      daemon.stop().then(resolve, (error) => {
        log.error({ err: toError(error) }, 'shutdown failed');
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    log.info(RUNNING_MESSAGE);
  });
}
