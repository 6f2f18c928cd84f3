/**
 * `batch-router start`: the daemon. Logs go to stdout (this is the long-running process a
 * collector reads); the process exits 0 after a graceful stop on SIGTERM/SIGINT.
 *
 * The HTTP API runs in this same process as a {@link Companion}, next to the router, so it shares
 * the database pool and stops before the router does. `--no-api` and `--api-only` split the two
 * roles across processes that share one database.
 */
import { startApi } from '../../api/index.ts';
import { ConfigurationError, type AppConfig } from '../../config.ts';
import { startDaemon, runUntilSignalled, type Daemon } from '../../daemon.ts';
import { createLogger, type Logger } from '../../logger.ts';
import { toError } from '../../manager/errors.ts';
import { defaultManagersDir, loadManagers } from '../../manager/registry.ts';
import { checkTuningEnv } from '../../tuning-env.ts';
import { optFlag } from '../args.ts';
import { CliError, EXIT, UsageError, type Command } from '../command.ts';
import { describeError } from '../context.ts';
import { describeTarget, explainDatabaseError, isConnectionError } from '../database.ts';

/** Something that runs alongside the router in the daemon process, such as the HTTP API. */
export interface Companion {
  /** Stops accepting work and releases what it holds; called before the router stops. */
  stop(): Promise<void>;
}

export type CompanionFactory = (context: {
  daemon: Daemon;
  config: AppConfig;
  env: Readonly<Record<string, string>>;
  log: Logger;
}) => Promise<Companion>;

/** The HTTP API on PORT, sharing the daemon's database and destinations. */
export const apiCompanion: CompanionFactory = ({ daemon, config, log }) =>
  startApi({ db: daemon.database.db, log, config, destinations: daemon.destinations, router: daemon.router });

/** Started in order after the router, stopped in reverse order before it. */
export const companions: CompanionFactory[] = [apiCompanion];

export const startCommand: Command = {
  name: 'start',
  async run(input, ctx) {
    const loaded = ctx.config();
    const config: AppConfig = optFlag(input, 'no-migrate') ? Object.freeze({ ...loaded, autoMigrate: false }) : loaded;
    const noApi = optFlag(input, 'no-api');
    const apiOnly = optFlag(input, 'api-only');
    if (noApi && apiOnly) throw new UsageError('--no-api and --api-only exclude each other: a process needs at least one role');
    const log = createLogger(config);
    // A bad tunable would abort every job of the destinations using it; refuse to start instead.
    // Loaded once: the same registry checks the environment and runs the daemon.
    const managers = await loadManagers(defaultManagersDir);
    const envCheck = checkTuningEnv(ctx.env, managers.keys());
    if (envCheck.problems.length > 0) throw new ConfigurationError(envCheck.problems);
    for (const warning of envCheck.warnings) log.warn(warning);
    let daemon: Daemon;
    try {
      daemon = await startDaemon({ config, env: ctx.env, log, runRouter: !apiOnly, managers });
    } catch (error) {
      // An unreachable database is the operator's to fix: one line with where and what to check,
      // no stack. Anything else is unexpected and keeps its stack in the log.
      if (isConnectionError(error)) {
        const explained = explainDatabaseError(error, describeTarget(config), config) as Error;
        const { code, cause } = error as { code?: unknown; cause?: { code?: unknown } };
        log.fatal({ code: code ?? cause?.code }, explained.message.split('\n')[0]!);
        throw explained;
      }
      // Logged for the collector and printed by main for whoever ran the command by hand.
      log.fatal({ err: toError(error) }, 'batch-router could not start');
      throw new CliError(`could not start: ${describeError(error)}`, EXIT.failure, { cause: error });
    }

    const running: Companion[] = [];
    try {
      for (const factory of noApi ? companions.filter((c) => c !== apiCompanion) : companions) running.push(await factory({ daemon, config, env: ctx.env, log }));
    } catch (error) {
      log.fatal({ err: toError(error) }, 'a companion of the router could not start; stopping');
      await stopAll(running, log);
      await daemon.stop();
      throw new CliError(`could not start: ${describeError(error)}`, EXIT.failure, { cause: error });
    }

    // runUntilSignalled stops what it is given; companions must stop first, so wrap the daemon.
    const stopEverything = async () => {
      await stopAll(running, log);
      await daemon.stop();
    };
    await runUntilSignalled({ ...daemon, stop: stopEverything }, log);
    log.info('batch-router stopped');
    return EXIT.ok;
  },
};

async function stopAll(running: Companion[], log: Logger): Promise<void> {
  for (const companion of [...running].reverse()) {
    await companion.stop().catch((error) => log.warn({ err: toError(error) }, 'stopping a companion failed'));
  }
}
