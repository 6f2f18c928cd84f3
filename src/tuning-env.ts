/**
 * Checks of the `BATCH_ROUTER_*` environment as a whole, run before the daemon starts: a tunable
 * with a bad value refuses the start (otherwise every destination using it would be aborted at
 * run time), and a name nobody reads gets a warning with the closest known name, since a typo
 * would otherwise be ignored in silence.
 */
import { validateSettings, type SettingSpec } from './config-convict.ts';
import { describeConfig } from './config.ts';
import { tuningFix } from './tuning.ts';
import { envVarFor, TUNING_DEFAULTS, TUNING_KEYS, TUNING_MIN, TUNING_SCHEMA, type TuningKey } from './tuning-schema.ts';

export interface TuningEnvCheck {
  /** Bad values, each naming the variable, the value and the fix. */
  readonly problems: string[];
  /** Unknown `BATCH_ROUTER_*` names, each with the closest known one. */
  readonly warnings: string[];
}

/** Every `BATCH_ROUTER_*` name the router reads, for the given manager names. */
export function knownRouterEnvNames(managerNames: Iterable<string>): Set<string> {
  const names = new Set(describeConfig().map((row) => row.env).filter((env) => env.startsWith('BATCH_ROUTER_')));
  for (const key of TUNING_KEYS) {
    names.add(envVarFor(undefined, key));
    for (const manager of managerNames) names.add(envVarFor(manager, key));
  }
  return names;
}

/** Validates tunables set in `env` and flags unknown `BATCH_ROUTER_*` names. */
export function checkTuningEnv(env: Readonly<Record<string, string>>, managerNames: Iterable<string>): TuningEnvCheck {
  const managers = [...managerNames];
  const known = knownRouterEnvNames(managers);
  // One convict schema entry per tunable variable, global and per manager, in the order they are
  // documented; convict checks them with the format of the process settings.
  const schema: Record<string, SettingSpec> = {};
  const keyOf = new Map<string, TuningKey>();
  const setEnv: Record<string, string> = {};
  for (const key of TUNING_KEYS) {
    for (const name of [envVarFor(undefined, key), ...managers.map((m) => envVarFor(m, key))]) {
      keyOf.set(name, key);
      schema[name] = { env: name, doc: TUNING_SCHEMA[key].doc, default: TUNING_DEFAULTS[key], format: 'whole-number', min: TUNING_MIN };
      // An empty variable counts as unset, as resolveTuning treats it.
      if (env[name] !== undefined && env[name] !== '') setEnv[name] = env[name];
    }
  }
  const { problems } = validateSettings(schema, setEnv, (spec) => tuningFix(keyOf.get(spec.env)!));
  const warnings: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('BATCH_ROUTER_') || known.has(name)) continue;
    warnings.push(`${name} is not a setting batch-router knows, so it is ignored; did you mean ${closest(name, known)}?`);
  }
  return { problems, warnings };
}

function closest(name: string, candidates: Iterable<string>): string {
  let best = '';
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** Levenshtein distance, one row at a time. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
