/**
 * `batch-router <command>`: finds the command, parses its options, runs it, and turns whatever it
 * throws into a message and an exit code (see EXIT in command.ts). Command modules are imported
 * only when their command runs, so `batch-router jobs` does not load the router.
 */
import { envSnapshot, ConfigurationError } from '../config.ts';
import { parseCommandLine } from './args.ts';
import { findCommand, synopsis, type CommandSpec } from './catalog.ts';
import { CliError, EXIT, UsageError, type CliContext } from './command.ts';
import { commandHelp, commandList } from './reference.ts';
import { createContext, describeError } from './context.ts';

function usage(): string {
  return [
    'usage: batch-router <command> [options]',
    '',
    'commands:',
    ...commandList(),
    '',
    'Run "batch-router help <command>" or "batch-router <command> --help" for its options.',
    'Exit codes: 0 ok, 1 failure, 2 usage or validation error, 3 some jobs aborted or cancelled, 4 timeout.',
  ].join('\n');
}

/** `batch-router help [command]`: the command list, or one command's help. */
function help(name: string | undefined, ctx: CliContext): number {
  if (name === undefined) {
    ctx.print(usage());
    return EXIT.ok;
  }
  const spec = findCommand(name);
  if (!spec) throw new UsageError(`unknown command "${name}"`);
  ctx.print(commandHelp(spec));
  return EXIT.ok;
}

/** Runs one command line and returns the exit code; never throws. */
export async function main(argv: readonly string[], ctx: CliContext): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    (name === undefined ? ctx.note : ctx.print)(usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === 'help') {
    try {
      if (rest.length > 1) throw new UsageError(`help: unexpected argument "${rest[1]}"`);
      return help(rest[0], ctx);
    } catch (error) {
      return report(error, undefined, ctx);
    }
  }
  const spec = findCommand(name);
  if (!spec) {
    ctx.note(`batch-router: unknown command "${name}"\n\n${usage()}`);
    return EXIT.usage;
  }
  try {
    const input = parseCommandLine(spec, rest);
    if (input.help) {
      ctx.print(commandHelp(spec));
      return EXIT.ok;
    }
    return await (await spec.load()).run(input, ctx);
  } catch (error) {
    return report(error, spec, ctx);
  }
}

function report(error: unknown, command: CommandSpec | undefined, ctx: CliContext): number {
  if (error instanceof UsageError) {
    ctx.note(`batch-router: ${error.message}`);
    if (command) ctx.note(`usage: ${synopsis(command).join('\n       ')}\nRun "batch-router help ${command.name}" for details.`);
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
