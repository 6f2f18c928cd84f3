/**
 * `batch-router <command>`: finds the command, parses its options, runs it, and turns whatever it
 * throws into a message and an exit code (see EXIT in command.ts). Command modules are imported
 * only when their command runs, so `batch-router jobs` does not load the router.
 */
import { envSnapshot, ConfigurationError } from '../config.ts';
import { parseCommandLine } from './args.ts';
import { CliError, EXIT, UsageError, type CliContext, type Command } from './command.ts';
import { createContext, describeError } from './context.ts';

interface Entry {
  readonly summary: string;
  load(): Promise<Command>;
}

const COMMANDS: Record<string, Entry> = {
  start: { summary: 'run the daemon until SIGTERM/SIGINT', load: async () => (await import('./commands/start.ts')).startCommand },
  migrate: { summary: 'apply pending database migrations', load: async () => (await import('./commands/migrate.ts')).migrateCommand },
  enqueue: { summary: 'enqueue NDJSON events for a destination', load: async () => (await import('./commands/enqueue.ts')).enqueueCommand },
  jobs: { summary: 'list jobs, newest first', load: async () => (await import('./commands/jobs.ts')).jobsCommand },
  job: { summary: 'show one job with its payload, upload and import', load: async () => (await import('./commands/jobs.ts')).jobCommand },
  uploads: { summary: 'list uploads, newest first', load: async () => (await import('./commands/uploads.ts')).uploadsCommand },
  upload: { summary: 'show one upload with its imports and jobs', load: async () => (await import('./commands/uploads.ts')).uploadCommand },
  retry: { summary: 'requeue aborted jobs', load: async () => (await import('./commands/job-actions.ts')).retryCommand },
  cancel: { summary: 'cancel jobs that are still waiting', load: async () => (await import('./commands/job-actions.ts')).cancelCommand },
  destinations: { summary: 'list destinations with job counts', load: async () => (await import('./commands/destinations.ts')).destinationsCommand },
  destination: { summary: 'show one destination: status, tuning, config (secrets hidden)', load: async () => (await import('./commands/destinations.ts')).destinationCommand },
  managers: { summary: 'list installed managers and their config fields', load: async () => (await import('./commands/managers.ts')).managersCommand },
  keys: { summary: 'create, list and revoke HTTP API keys; make a callback secret', load: async () => (await import('./commands/keys.ts')).keysCommand },
  'break-lock': { summary: 'remove the embedded database lock of a host that is gone', load: async () => (await import('./commands/embedded.ts')).breakLockCommand },
  help: { summary: 'show help for a command', load: async () => helpCommand },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, entry]) => `  ${name.padEnd(width)}  ${entry.summary}`);
  return [
    'usage: batch-router <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    'Run "batch-router help <command>" or "batch-router <command> --help" for its options.',
    'Exit codes: 0 ok, 1 failure, 2 usage or validation error, 3 some jobs aborted or cancelled, 4 timeout.',
  ].join('\n');
}

const helpCommand: Command = {
  name: 'help',
  help: 'batch-router help [command]\n\nShows the list of commands, or the options of one command.',
  options: {},
  positionals: [0, 1],
  async run(input, ctx) {
    const name = input.positionals[0];
    if (name === undefined) {
      ctx.print(usage());
      return EXIT.ok;
    }
    const entry = COMMANDS[name];
    if (!entry) throw new UsageError(`unknown command "${name}"`);
    ctx.print((await entry.load()).help);
    return EXIT.ok;
  },
};

/** Runs one command line and returns the exit code; never throws. */
export async function main(argv: readonly string[], ctx: CliContext): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    (name === undefined ? ctx.note : ctx.print)(usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    ctx.note(`batch-router: unknown command "${name}"\n\n${usage()}`);
    return EXIT.usage;
  }
  let command: Command | undefined;
  try {
    command = await entry.load();
    const input = parseCommandLine(command, rest);
    if (input.help) {
      ctx.print(command.help);
      return EXIT.ok;
    }
    return await command.run(input, ctx);
  } catch (error) {
    return report(error, command, ctx);
  }
}

function report(error: unknown, command: Command | undefined, ctx: CliContext): number {
  if (error instanceof UsageError) {
    const synopsis = command?.help.split('\n')[0];
    ctx.note(`batch-router: ${error.message}`);
    if (synopsis) ctx.note(`usage: ${synopsis}\nRun "batch-router help ${command!.name}" for details.`);
    return error.exitCode;
  }
  if (error instanceof CliError) {
    if (!error.reported) ctx.note(`batch-router: ${error.message}`);
    if (wantsStack(ctx) && error.cause) ctx.note(String((error.cause as Error)?.stack ?? error.cause));
    return error.exitCode;
  }
  if (error instanceof ConfigurationError) {
    ctx.note(`batch-router: ${error.message}`);
    return EXIT.usage;
  }
  ctx.note(`batch-router: ${describeError(error)}`);
  if (wantsStack(ctx)) ctx.note(String((error as Error)?.stack ?? ''));
  else ctx.note('Run again with LOG_LEVEL=debug to see where it failed.');
  return EXIT.failure;
}

function wantsStack(ctx: CliContext): boolean {
  return ctx.env.LOG_LEVEL === 'debug' || ctx.env.LOG_LEVEL === 'trace';
}

/** Waits until everything written to a stream has been handed to the OS, so exit loses nothing. */
function drain(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

// `batch-router jobs | head` closes our stdout early; that is the reader's choice, not a failure.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(EXIT.ok);
});

const code = await main(process.argv.slice(2), createContext(envSnapshot()));
await Promise.all([drain(process.stdout), drain(process.stderr)]);
// Explicit exit: a library's stray timer or socket must not keep a finished command alive.
process.exit(code);
