/**
 * Runs the `batch-router` CLI as a child process, the way an operator or a script does, so exit
 * codes, stdout/stderr separation and stdin streaming are tested as they really behave. Also
 * writes the destinations file the child reads.
 *
 * The child runs this run's compiled copy of the sources (test/helpers/cli-build.ts), which starts
 * in about half the time of bin/batch-router.js → tsx → src/cli/main.ts; `{ bin: true }` runs the
 * real executable, and does so anyway when no copy was built (a run without global-setup.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI_BUILD_ENV } from '../helpers/cli-build.ts';

const BIN = fileURLToPath(new URL('../../bin/batch-router.js', import.meta.url));

export interface CliOptions {
  /** Run bin/batch-router.js (through tsx) rather than the compiled copy. */
  bin?: boolean;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<CliResult>;
}

export interface CliWorkspace {
  dir: string;
  destinationsFile: string;
  env: Record<string, string>;
  /** Writes `name` in the workspace and returns its path. */
  file(name: string, content: string): string;
  cleanup(): void;
}

/** A temp dir with a destinations file; `env` points the CLI at it and at `databaseUrl`. */
export function cliWorkspace(databaseUrl: string, destinations: unknown): CliWorkspace {
  const dir = mkdtempSync(join(tmpdir(), 'br-cli-'));
  const destinationsFile = join(dir, 'destinations.json');
  writeFileSync(destinationsFile, JSON.stringify(destinations, null, 2));
  return {
    dir,
    destinationsFile,
    env: {
      DATABASE_URL: databaseUrl,
      BATCH_ROUTER_DESTINATIONS_FILE: destinationsFile,
      BATCH_ROUTER_DATA_DIR: join(dir, 'data'),
      LOG_LEVEL: 'warn',
    },
    file(name, content) {
      const path = join(dir, name);
      writeFileSync(path, content);
      return path;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Starts the CLI; `input` (if given) is written to its stdin, which is then closed. */
export function startCli(args: readonly string[], env: Record<string, string>, input?: string, options: CliOptions = {}): RunningCli {
  // The parent's DATABASE_URL and friends must not leak in: only what the test chose applies.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(DATABASE_URL|BATCH_ROUTER_|LOG_LEVEL|PORT$)/.test(name)),
  );
  const entry = options.bin ? BIN : (process.env[CLI_BUILD_ENV] ?? BIN);
  const child = spawn(process.execPath, [entry, ...args], {
    env: { ...inherited, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin!.on('error', () => undefined); // the CLI may exit before reading all of it
  child.stdin!.end(input ?? '');
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

export function runCli(args: readonly string[], env: Record<string, string>, input?: string, options?: CliOptions): Promise<CliResult> {
  return startCli(args, env, input, options).exited;
}

/** Parses stdout as JSON, with the whole output in the error when it is not. */
export function parseJson<T = unknown>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}
