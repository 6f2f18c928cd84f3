/**
 * The CLI's context (configuration, a stderr logger, output) and the destinations file. Failures
 * are turned into messages that say what to do next instead of stack traces. Database access is
 * in database.ts, so commands that need no database (help, managers) never load its driver.
 */
import { loadConfig, type AppConfig } from '../config.ts';
import { loadDestinations, type LoadedDestinations } from '../destinations.ts';
import { createLogger, type Logger } from '../logger.ts';
import { loadManagers, type ManagerRegistry } from '../manager/registry.ts';
import { CliError, EXIT, type CliContext } from './command.ts';

export function createContext(env: Readonly<Record<string, string>>): CliContext {
  let config: AppConfig | undefined;
  let log: Logger | undefined;
  const context: CliContext = {
    env,
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    // No argument: config.ts is the one module that reads process.env.
    config: () => (config ??= loadConfig()),
    log: () => (log ??= cliLogger(context.config())),
    print: (line) => void process.stdout.write(`${line}\n`),
    note: (line) => void process.stderr.write(`${line}\n`),
  };
  return context;
}

/**
 * Commands are short-lived and talk to a person: info-level chatter (pool opened, migrations
 * checked) would bury their output, so only warnings and errors show unless LOG_LEVEL asks for
 * debug or trace. Always stderr, always readable unless JSON logs were asked for explicitly.
 */
function cliLogger(config: AppConfig): Logger {
  const verbose = config.logLevel === 'debug' || config.logLevel === 'trace';
  const quiet = config.logLevel === 'error' || config.logLevel === 'fatal' || config.logLevel === 'silent';
  const logLevel = verbose || quiet ? config.logLevel : 'warn';
  const logFormat = config.logFormat === 'json' ? 'json' : 'pretty';
  return createLogger({ logLevel, logFormat }, process.stderr);
}

/** The message of anything thrown; pg reports refused IPv4+IPv6 connects as an AggregateError with no message. */
export function describeError(error: unknown): string {
  if (error instanceof AggregateError && !error.message) {
    return [...new Set(error.errors.map((inner) => describeError(inner)))].join('; ');
  }
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/** Installed managers plus the destinations file checked against them. */
export async function loadDestinationsFile(ctx: CliContext): Promise<LoadedDestinations & { registry: ManagerRegistry }> {
  let registry: ManagerRegistry;
  try {
    registry = await loadManagers();
  } catch (error) {
    throw new CliError(`${describeError(error)}\nFix or remove that manager directory, then try again.`, EXIT.failure, { cause: error });
  }
  return { ...loadDestinations(ctx.config().destinationsFile, registry, ctx.env), registry };
}
