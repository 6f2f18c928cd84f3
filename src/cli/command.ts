/**
 * What every CLI command shares: the command shape the dispatcher in `main.ts` runs, the context
 * it hands over, and the exit codes. Exit codes are part of the interface (scripts branch on
 * them), so they are named once here and nowhere else as bare numbers.
 */
import type { AppConfig } from '../config.ts';
import type { Logger } from '../logger.ts';

export const EXIT = {
  ok: 0,
  /** Something failed that the caller's input does not explain (database down, a bug). */
  failure: 1,
  /** The command line, an input file or a named thing was wrong; nothing was changed by the bad part. */
  usage: 2,
  /** `enqueue --wait`: every job is final, but some were aborted or cancelled. */
  someFailed: 3,
  /** `enqueue --wait --timeout`: gave up waiting; the jobs carry on without us. */
  timeout: 4,
} as const;

/** An error whose message is meant for the operator as is (no stack), with the exit code to use. */
export class CliError extends Error {
  readonly exitCode: number;
  /** True when the message was already logged (by `start`), so `main` must not print it twice. */
  readonly reported: boolean;
  constructor(message: string, exitCode: number = EXIT.failure, options?: { cause?: unknown; reported?: boolean }) {
    super(message, options);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.reported = options?.reported ?? false;
  }
}

/** A wrong command line: `main` prints the message followed by the command's synopsis. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = 'UsageError';
  }
}

export type OptionValues = Record<string, string | boolean | Array<string | boolean> | undefined>;

export interface ParsedInput {
  readonly values: OptionValues;
  readonly positionals: readonly string[];
}

export interface CliContext {
  /** Frozen copy of the environment (for `${VAR}` substitution in the destinations file). */
  readonly env: Readonly<Record<string, string>>;
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  /** Loaded on first use, so `help` and `managers` work even with a broken environment. */
  config(): AppConfig;
  /** A logger on stderr (stdout is for results), quiet unless LOG_LEVEL asks for debug output. */
  log(): Logger;
  /** Writes one line of results to stdout. */
  print(line: string): void;
  /** Writes one line of diagnostics (notes, hints, progress) to stderr. */
  note(line: string): void;
}

export interface Command {
  /** Must equal its entry's name in catalog.ts, which declares its arguments, flags and help. */
  readonly name: string;
  /** Returns the exit code; throws {@link CliError} for anything the operator must act on. */
  run(input: ParsedInput, ctx: CliContext): Promise<number>;
}
