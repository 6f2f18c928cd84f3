/**
 * The command catalog: every CLI command declared once, as data (name, arguments, flags with their
 * descriptions, summary, description). Argument parsing, `--help`, the command list and the
 * README's CLI table (`npm run docs:cli`, checked by test/cli/reference.test.ts) all read it, so
 * none can drift from another. A new command is one more entry here plus its module's `run`.
 */
import type { ParseArgsConfig } from 'node:util';
import type { Command } from './command.ts';

export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** May be given more than once (`--id 1 --id 2`). */
  readonly multiple?: boolean;
  /** Placeholder for the value of a string flag, as shown in help (`<id>`). */
  readonly value?: string;
  /** One sentence for help and the README. */
  readonly description: string;
}

export interface CommandSpec {
  readonly name: string;
  /** One line for the command list and the README table. */
  readonly summary: string;
  /** Argument forms after the command name, one per line of the synopsis ('' for none). */
  readonly usage: readonly string[];
  /** How many positional arguments the command takes: [min, max]. */
  readonly positionals: readonly [number, number];
  /** Shown by `--help` between the synopsis and the flags. */
  readonly description: string;
  readonly flags: Readonly<Record<string, FlagSpec>>;
  /** The module holding `run`, imported only when the command runs. */
  load(): Promise<Command>;
}

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'start',
    summary: "run the daemon until SIGTERM/SIGINT",
    usage: [""],
    positionals: [0, 0],
    description: "Runs the daemon: delivers waiting jobs of every enabled, valid destination and serves the HTTP API\non PORT until SIGTERM or SIGINT, then stops the API, finishes in-flight uploads (up to\nBATCH_ROUTER_SHUTDOWN_GRACE_MS) and exits 0. A second signal exits at once. Configuration comes\nfrom the environment (see README).",
    flags: {
      "no-migrate": { type: 'boolean', description: "do not apply pending migrations on start (same as BATCH_ROUTER_AUTO_MIGRATE=false); the daemon then refuses to run against an out-of-date schema" },
      "no-api": { type: 'boolean', description: "deliver only: no HTTP API (and so no callbacks) in this process" },
      "api-only": { type: 'boolean', description: "serve the API (and send callbacks) only: no deliveries in this process" },
    },
    load: async () => (await import('./commands/start.ts')).startCommand,
  },
  {
    name: 'migrate',
    summary: "apply pending database migrations",
    usage: [""],
    positionals: [0, 0],
    description: "Applies every pending migration of migrations/ in one transaction, under a lock, so running it\nnext to a starting daemon is safe. Prints what was applied.",
    flags: {
      status: { type: 'boolean', description: "only list the migrations and whether each has been applied" },
      json: { type: 'boolean', description: "print {applied: [names]} or, with --status, [{name, executedAt}]" },
    },
    load: async () => (await import('./commands/migrate.ts')).migrateCommand,
  },
  {
    name: 'check',
    summary: "check settings, destinations file and database before a deployment; exit 0 only when all is fine",
    usage: [""],
    positionals: [0, 0],
    description: "Checks the environment settings (BATCH_ROUTER_*, DATABASE_URL, LOG_*), every entry of the\ndestinations file (manager, config, tuning, including per-manager BATCH_ROUTER_<MANAGER>_<KEY>\nvariables), and the database: reachable, and either migrated or migrated on start\n(BATCH_ROUTER_AUTO_MIGRATE). Prints \"ok: ...\" per passing check and one \"problem: ...\" line per\nproblem. Exits 0 when everything is fine, 2 when there is any problem.",
    flags: {},
    load: async () => (await import('./commands/check.ts')).checkCommand,
  },
  {
    name: 'enqueue',
    summary: "enqueue NDJSON events for a destination",
    usage: ["<destinationId> [file|-]"],
    positionals: [1, 2],
    description: "Reads NDJSON (one JSON object per line) from a file, or from stdin when the file is \"-\" or\nomitted, and enqueues one job per line. Lines are inserted in batches of 5000; a line\nthat is not a JSON object stops the run (exit 2) with its line number and what was already enqueued.\nA destination that is disabled or has an invalid configuration is refused (exit 2), as the API\nrefuses it (409), before anything is read. An input that takes more than a second shows its\nprogress on stderr (lines enqueued, share of the file read, rate): one line redrawn on a terminal,\na plain line every 5 s into a pipe or file.",
    flags: {
      wait: { type: 'boolean', description: "then follow the jobs until every one is final; exit 0 if all succeeded, 3 if some were aborted or cancelled" },
      timeout: { type: 'string', value: "<seconds>", description: "with --wait: give up after this long (exit 4); the jobs carry on" },
      submission: { type: 'string', value: "<id>", description: "tag the jobs (for \"jobs/cancel --submission\"); default: a new cli-<uuid>" },
      force: { type: 'boolean', description: "enqueue even if the destination is not in the destinations file (its jobs wait until it is added); a disabled or invalid entry is refused anyway" },
      json: { type: 'boolean', description: "print {destinationId, submissionId, enqueued, ranges, counts?, finished?}" },
    },
    load: async () => (await import('./commands/enqueue.ts')).enqueueCommand,
  },
  {
    name: 'jobs',
    summary: "list jobs, newest first",
    usage: [""],
    positionals: [0, 0],
    description: "Lists jobs, newest first. For the next page pass --before with the last id shown.",
    flags: {
      destination: { type: 'string', value: "<id>", description: "only this destination" },
      state: { type: 'string', multiple: true, value: "<states>", description: "only these states: waiting, executing, importing, succeeded, aborted, cancelled (comma-separated)" },
      submission: { type: 'string', value: "<id>", description: "only jobs of this submission (enqueue prints it)" },
      limit: { type: 'string', value: "<n>", description: "at most n jobs (1-10000, default 50)" },
      before: { type: 'string', value: "<id>", description: "only jobs with a smaller id" },
      json: { type: 'boolean', description: "print an array of {id, destinationId, state, attempts, nextAttemptAt, reason, lastError, uploadId, importId, createdAt, updatedAt, finishedAt, payload?}" },
      payload: { type: 'boolean', description: "include each job's payload" },
    },
    load: async () => (await import('./commands/jobs.ts')).jobsCommand,
  },
  {
    name: 'job',
    summary: "show one job with its payload, upload and import",
    usage: ["<id>"],
    positionals: [1, 1],
    description: "Shows one job: state and history, its payload, the upload and import that carry it, and for a\nwaiting job when it will next be tried. Exits 2 when there is no such job.",
    flags: {
      json: { type: 'boolean', description: "print the job as JSON" },
    },
    load: async () => (await import('./commands/jobs.ts')).jobCommand,
  },
  {
    name: 'uploads',
    summary: "list uploads, newest first",
    usage: [""],
    positionals: [0, 0],
    description: "Lists uploads (batches handed to a manager), newest first.",
    flags: {
      destination: { type: 'string', value: "<id>", description: "only this destination" },
      state: { type: 'string', multiple: true, value: "<states>", description: "only these states: uploading, retry_wait, importing, finished (comma-separated)" },
      limit: { type: 'string', value: "<n>", description: "at most n uploads (1-10000, default 50)" },
      before: { type: 'string', value: "<id>", description: "only uploads with a smaller id (the next page)" },
      json: { type: 'boolean', description: "print an array of uploads" },
    },
    load: async () => (await import('./commands/uploads.ts')).uploadsCommand,
  },
  {
    name: 'upload',
    summary: "show one upload with its imports and jobs",
    usage: ["<id>"],
    positionals: [1, 1],
    description: "Shows one upload: state, attempts, lease, last error, its vendor imports, and its jobs by state.\nExits 2 when there is no such upload.",
    flags: {
      json: { type: 'boolean', description: "print the upload as JSON" },
    },
    load: async () => (await import('./commands/uploads.ts')).uploadCommand,
  },
  {
    name: 'retry',
    summary: "requeue aborted jobs",
    usage: [""],
    positionals: [0, 0],
    description: "Puts aborted jobs back to waiting with a fresh attempt budget; their abort reason is kept as last\nerror. At least one filter is required, or --all.",
    flags: {
      destination: { type: 'string', value: "<id>", description: "only this destination" },
      id: { type: 'string', multiple: true, value: "<id>", description: "only these jobs (repeat, or comma-separate)" },
      "reason-contains": { type: 'string', value: "<text>", description: "only jobs whose abort reason contains this text (case-insensitive)" },
      since: { type: 'string', value: "<iso>", description: "only jobs aborted at or after this time (e.g. 2026-11-22T08:00:00Z)" },
      until: { type: 'string', value: "<iso>", description: "only jobs aborted before this time" },
      all: { type: 'boolean', description: "every aborted job" },
      json: { type: 'boolean', description: "print {requeued, ids}" },
    },
    load: async () => (await import('./commands/job-actions.ts')).retryCommand,
  },
  {
    name: 'cancel',
    summary: "cancel jobs that are still waiting",
    usage: [""],
    positionals: [0, 0],
    description: "Cancels matching jobs that are still waiting. Jobs already handed to the vendor (executing,\nimporting) cannot be recalled and finish on their own; final ones stay as they are. Both are\ncounted in the report. At least one filter is required, or --all.",
    flags: {
      id: { type: 'string', multiple: true, value: "<id>", description: "only these jobs (repeat, or comma-separate)" },
      destination: { type: 'string', value: "<id>", description: "only this destination" },
      submission: { type: 'string', value: "<id>", description: "only jobs of this submission" },
      reason: { type: 'string', value: "<text>", description: "reason recorded on the cancelled jobs (default \"cancelled with batch-router cancel\")" },
      all: { type: 'boolean', description: "every waiting job" },
      json: { type: 'boolean', description: "print {cancelled, ids, inFlight, alreadyFinal, notFound}" },
    },
    load: async () => (await import('./commands/job-actions.ts')).cancelCommand,
  },
  {
    name: 'destinations',
    summary: "list destinations with job counts; exit 2 if any entry is invalid",
    usage: [""],
    positionals: [0, 0],
    description: "Lists the destinations of BATCH_ROUTER_DESTINATIONS_FILE with their manager, whether they are\nusable, and job counts by state; also destinations that have jobs but are not in the file.\nExits 2 when the file itself cannot be used (missing, not JSON) or any entry is invalid\n(each one's problem is printed on stderr); \"batch-router check\" checks settings and database too.",
    flags: {
      json: { type: 'boolean', description: "print [{id, manager, enabled, valid, error?, counts: {waiting, executing, importing, succeeded, aborted, cancelled}}]" },
    },
    load: async () => (await import('./commands/destinations.ts')).destinationsCommand,
  },
  {
    name: 'destination',
    summary: "show one destination: status, tuning, config (secrets hidden)",
    usage: ["<id>"],
    positionals: [1, 1],
    description: "Shows one destination of the destinations file: manager, status and any error, resolved tuning,\nits config with secret fields and environment-substituted values hidden, and job counts.",
    flags: {
      json: { type: 'boolean', description: "print the destination as JSON" },
    },
    load: async () => (await import('./commands/destinations.ts')).destinationCommand,
  },
  {
    name: 'managers',
    summary: "list installed managers and their config fields",
    usage: [""],
    positionals: [0, 0],
    description: "Lists the installed managers (destination types): description, vendor limits, tuning defaults,\nand the fields a destination's \"config\" takes.",
    flags: {
      json: { type: 'boolean', description: "print [{name, description, fireAndForget, limits, tuningDefaults, fields: [{name, kind, required, default, secret, doc}]}]" },
    },
    load: async () => (await import('./commands/managers.ts')).managersCommand,
  },
  {
    name: 'keys',
    summary: "create, list and revoke HTTP API keys; make a callback secret",
    usage: ["create --name N --scopes S1,S2 [--destinations D1,D2]", "list", "revoke <id>", "secret"],
    positionals: [1, 2],
    description: "Manages the HTTP API keys in BATCH_ROUTER_API_KEYS_FILE (default config/api-keys.json), which holds\nonly SHA-256 hashes. \"create\" prints the new key once: store it then. Until a key exists the API\nlistens on 127.0.0.1 only and lets every local caller in.\n\nscopes: events:write, jobs:read, jobs:read-payload, jobs:write, admin\n  events:write       submit events          jobs:read    read submissions, jobs, uploads, destinations\n  jobs:read-payload  see job payloads       jobs:write   cancel and retry\n  admin              everything, including /metrics\n\n\"secret\" prints a new whsec_ secret for BATCH_ROUTER_CALLBACK_SECRET (callback signing).",
    flags: {
      name: { type: 'string', value: "<text>", description: "who or what uses the key (shown in logs and \"list\")" },
      scopes: { type: 'string', multiple: true, value: "<s1,s2>", description: "comma-separated scopes" },
      destinations: { type: 'string', multiple: true, value: "<d1,d2>", description: "restrict the key to these destination ids (default: all)" },
      json: { type: 'boolean', description: "machine-readable output" },
    },
    load: async () => (await import('./commands/keys.ts')).keysCommand,
  },
  {
    name: 'backup',
    summary: "write the embedded database to a SQL file (also while the daemon runs)",
    usage: ["<file>"],
    positionals: [1, 1],
    description: "Dumps the embedded database (BATCH_ROUTER_DATA_DIR) with PGlite's pg_dump into <file>, a plain SQL\nfile that \"batch-router restore\" loads back and psql loads into a PostgreSQL server. Works through\nthe running daemon (its queries wait for the dump) or, with none running, opens the data directory\nitself. The file appears only once complete; an existing file is kept unless --force.",
    flags: {
      force: { type: 'boolean', description: "replace <file> if it exists" },
    },
    load: async () => (await import('./commands/backup.ts')).backupCommand,
  },
  {
    name: 'restore',
    summary: "load a backup into the embedded database's data directory, then migrate",
    usage: ["<file>"],
    positionals: [1, 1],
    description: "Loads a file written by \"batch-router backup\" into BATCH_ROUTER_DATA_DIR, then applies pending\nmigrations. Refuses while a daemon or another batch-router process uses the data directory, and\nrefuses a data directory that already holds a database unless --force; the old database is\nreplaced only once the whole file has loaded.",
    flags: {
      force: { type: 'boolean', description: "replace the database already in the data directory" },
    },
    load: async () => (await import('./commands/backup.ts')).restoreCommand,
  },
  {
    name: 'break-lock',
    summary: "remove the embedded database's lock left by a host or container that is gone",
    usage: [""],
    positionals: [0, 0],
    description: "Removes the embedded database's lock (<BATCH_ROUTER_DATA_DIR>/pglite.lock) left by a batch-router\non another host or container, or from before a reboot, that is gone for good. Only do this when\nthat host cannot come back while you start here: two processes writing one data directory corrupt\nit. Refuses when the lock names another host, or a process on this host that is still running.",
    flags: {
      host: { type: 'string', value: "<name>", description: "the host name the lock names (shown in the message that refused to start)" },
    },
    load: async () => (await import('./commands/embedded.ts')).breakLockCommand,
  },
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((spec) => spec.name === name);
}

/** node:util parseArgs options of a command. */
export function parseOptions(spec: CommandSpec): NonNullable<ParseArgsConfig['options']> {
  return Object.fromEntries(
    Object.entries(spec.flags).map(([name, flag]) => [name, { type: flag.type, ...(flag.short ? { short: flag.short } : {}), ...(flag.multiple ? { multiple: true } : {}) }]),
  );
}

/** `--name <value>` (with `-s, ` when it has a short form). */
export function flagLabel(name: string, flag: FlagSpec): string {
  return `${flag.short ? `-${flag.short}, ` : ''}--${name}${flag.value ? ` ${flag.value}` : ''}`;
}

export function synopsis(spec: CommandSpec): string[] {
  const options = Object.keys(spec.flags).length > 0 ? ' [options]' : '';
  return spec.usage.map((args) => `batch-router ${spec.name}${args ? ` ${args}` : ''}${options}`);
}
