/**
 * The destinations file: which destinations exist, which manager delivers to each, and their
 * config. A broken entry disables only itself (valid: false, with an error naming the entry, the
 * field and the fix) so one typo never stops delivery to the other destinations. Error text never
 * holds secret values: secret fields and everything taken from the environment are scrubbed.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Manager } from './manager/contract.ts';
import { redactConfig } from './manager/config-schema.ts';
import { ConfigError } from './manager/errors.ts';
import type { ManagerRegistry } from './manager/registry.ts';
import { secretValues, substituteEnv } from './env-substitution.ts';
import { redactText } from './logger.ts';
import { resolveTuning, type Tuning } from './tuning.ts';
import { depthOf } from './util/json-depth.ts';

/** One entry of the destinations file, checked and resolved. */
export interface Destination {
  /** The entry's `id`, or `#<n>` (1-based position) when it has no usable id. */
  readonly id: string;
  /** The entry's `manager` as written ('' when missing). */
  readonly managerName: string;
  /** The registered manager, or undefined when the name is unknown. */
  readonly manager: Manager | undefined;
  /** `enabled` from the file, true when absent. Invalid entries keep theirs; the router skips them anyway. */
  readonly enabled: boolean;
  /**
   * When valid: what `manager.configSchema.parse` returned, env values substituted.
   * When invalid: the entry's `config` as written, `${...}` unresolved and secret fields masked,
   * so printing it cannot leak a secret.
   */
  readonly config: unknown;
  /** Resolved tunables (see tuning.ts); framework defaults where nothing usable was given. */
  readonly tuning: Tuning;
  /** True when the entry can be delivered to. */
  readonly valid: boolean;
  /** Why the entry is invalid: `destination "x": field "config.url" ...: fix ...`, secrets scrubbed. */
  readonly error?: string;
  /** Warnings that do not invalidate the entry (a tunable lowered to the manager's limit). */
  readonly notes: readonly string[];
  /**
   * Secret values of this destination (secret config fields, substituted env values), for
   * `redactText` on vendor error messages. Non-enumerable, so logging the destination skips it.
   */
  readonly secrets: readonly string[];
}

export interface LoadedDestinations {
  /** Every entry of the file in file order, valid or not. */
  readonly destinations: Destination[];
  /** Set when the file as a whole could not be used; `destinations` is then empty. */
  readonly fileError?: string;
}

export const DESTINATION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const ENTRY_KEYS = ['id', 'manager', 'enabled', 'config', 'tuning'];

/**
 * Deepest "config" or "tuning" an entry may have. Real configs need three or four levels; the
 * checks below walk values recursively, and a runaway file thousands of levels deep would
 * overflow the stack instead of disabling its one entry with a reason.
 */
export const MAX_CONFIG_DEPTH = 32;

/** Reads `file` (relative to the working directory) and checks every entry against `registry`. */
export function loadDestinations(
  file: string,
  registry: ManagerRegistry,
  env: Readonly<Record<string, string>>,
): LoadedDestinations {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const fileError =
      code === 'ENOENT'
        ? `destinations file not found: looked for "${path}". Fix: create it with a JSON array such as ` +
          '[{"id": "demo-files", "manager": "local-files", "config": {"directory": "./out"}}], ' +
          'or set BATCH_ROUTER_DESTINATIONS_FILE to the file you meant'
        : `destinations file "${path}" could not be read: ${(error as Error).message}`;
    return { destinations: [], fileError };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { destinations: [], fileError: `destinations file "${path}" is not valid JSON: ${jsonProblem(error as Error, text)}` };
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { destinations?: unknown } | null)?.destinations;
  if (!Array.isArray(list)) {
    const fileError = `destinations file "${path}" must hold a JSON array of destinations, or {"destinations": [...]}`;
    return { destinations: [], fileError };
  }
  const context: EntryContext = { path, registry, env, firstUse: new Map() };
  return { destinations: list.map((entry, index) => checkEntry(entry, index + 1, context)) };
}

/** What every entry is checked against; `firstUse` maps each id to the entry that took it. */
type EntryContext = { path: string; registry: ManagerRegistry; env: Readonly<Record<string, string>>; firstUse: Map<string, number> };

function checkEntry(entry: unknown, position: number, { path, registry, env, firstUse }: EntryContext): Destination {
  const problems: string[] = [];
  const raw = (typeof entry === 'object' && entry !== null && !Array.isArray(entry) ? entry : {}) as Record<string, unknown>;
  if (raw !== entry) problems.push(`entry must be an object with "id", "manager" and "config"`);

  let id = `#${position}`;
  if (raw.id === undefined) problems.push('field "id" is required: fix: add "id": "a-unique-name"');
  else if (typeof raw.id !== 'string' || !DESTINATION_ID_PATTERN.test(raw.id)) {
    problems.push(
      `field "id" must start with a letter or digit and hold only letters, digits, ".", "_" and "-" (at most 128), ` +
        `got ${JSON.stringify(raw.id).slice(0, 80)}: fix: rename it`,
    );
    if (typeof raw.id === 'string' && raw.id.length > 0) id = raw.id.slice(0, 128);
  } else if (firstUse.has(raw.id)) {
    id = raw.id;
    problems.push(`field "id": "${id}" is already used by entry #${firstUse.get(id)}: fix: give each destination a unique id`);
  } else {
    id = raw.id;
    firstUse.set(id, position);
  }

  const managerName = typeof raw.manager === 'string' ? raw.manager : '';
  const manager = registry.get(managerName);
  if (!manager) {
    const known = [...registry.keys()].sort().join(', ') || '(none installed)';
    const what = managerName ? `unknown manager "${managerName}"` : 'field "manager" is required';
    problems.push(`${what}: fix: set "manager" to one of ${known}`);
  }
  const enabled = raw.enabled ?? true;
  if (typeof enabled !== 'boolean') problems.push('field "enabled" must be true or false');
  for (const key of Object.keys(raw).filter((k) => !ENTRY_KEYS.includes(k))) {
    problems.push(`field "${key}" is not known: fix: use only ${ENTRY_KEYS.join(', ')} (put manager settings inside "config")`);
  }

  // An absent config is an empty one, so a manager whose fields all have defaults needs none.
  const config = substituteEnv(bounded(raw, 'config', problems) ?? {}, env, 'config');
  const tuningInput = substituteEnv(bounded(raw, 'tuning', problems), env, 'tuning');
  for (const { path: at, name } of [...config.missing, ...tuningInput.missing]) {
    problems.push(`field "${at}" uses \${${name}} but ${name} is not set: fix: set ${name} in the environment, or write the value`);
  }
  const secrets = secretValues(config, manager?.configSchema.secretFields ?? [], [tuningInput]);

  let parsedConfig: unknown;
  // With a variable missing the `${NAME}` text would be validated as if it were the value: skip.
  if (manager && config.missing.length === 0) {
    try {
      parsedConfig = manager.configSchema.parse(config.value);
    } catch (error) {
      problems.push(configProblem(error));
    }
  }

  const resolved = resolveTuning(managerName, manager?.tuningDefaults ?? {}, tuningInput.value, env, manager?.limits ?? {});
  problems.push(...resolved.problems);
  const valid = problems.length === 0;
  const destination: Omit<Destination, 'secrets'> = {
    id,
    managerName,
    manager,
    enabled: typeof enabled === 'boolean' ? enabled : true,
    config: valid ? parsedConfig : shownConfig(manager, bounded(raw, 'config', [])),
    tuning: resolved.tuning,
    valid,
    ...(valid ? {} : { error: redactText(`destination "${id}": ${problems.join('; ')} (its entry is in ${path})`, secrets) }),
    notes: resolved.notes.map((note) => `destination "${id}": ${redactText(note, secrets)}`),
  };
  const hidden = { value: secrets, enumerable: false };
  return Object.freeze(Object.defineProperty(destination as Destination, 'secrets', hidden));
}

/** `raw[field]`, or undefined (with a problem) when it is nested deeper than MAX_CONFIG_DEPTH. */
function bounded(raw: Record<string, unknown>, field: 'config' | 'tuning', problems: string[]): unknown {
  if (depthOf(raw[field], MAX_CONFIG_DEPTH) <= MAX_CONFIG_DEPTH) return raw[field];
  problems.push(`field "${field}" is nested more than ${MAX_CONFIG_DEPTH} levels deep (objects and arrays count): fix: write it as the manager's README shows`);
  return undefined;
}

/** A manager's ConfigError names a field of `config`; say `config.<field>` so the operator finds it. */
function configProblem(error: unknown): string {
  if (!(error instanceof ConfigError)) return `field "config" could not be checked: ${(error as Error)?.message ?? String(error)}`;
  const field = error.field && error.field !== 'config' ? `config.${error.field}` : 'config';
  const message = error.message.replace(`field "${error.field}"`, `field "${field}"`);
  return message.startsWith('field "') ? message : `field "${field}": ${message}`;
}

/** The config of an invalid entry as written, secret fields masked when the manager is known. */
function shownConfig(manager: Manager | undefined, config: unknown): unknown {
  const isObject = typeof config === 'object' && config !== null && !Array.isArray(config);
  return manager && isObject ? redactConfig(manager.configSchema, config as Record<string, unknown>) : config;
}

/** JSON.parse's message plus line and column (Node 20 gives only the position) and the fix. */
function jsonProblem(error: Error, text: string): string {
  const at = /at position (\d+)/.exec(error.message);
  const before = at && !/line \d+/.test(error.message) ? text.slice(0, Number(at[1])).split('\n') : undefined;
  const where = before ? ` (line ${before.length}, column ${before.at(-1)!.length + 1})` : '';
  return `${error.message}${where}: fix the syntax; JSON allows no comments or trailing commas`;
}

/** One row per destination for `batch-router destinations` and the start-up log. */
export function destinationsSummary(destinations: readonly Destination[]) {
  return destinations.map((d) => ({
    id: d.id,
    manager: d.managerName,
    status: !d.valid ? ('invalid' as const) : d.enabled ? ('ready' as const) : ('disabled' as const),
    ...(d.error ? { error: d.error } : {}),
  }));
}
