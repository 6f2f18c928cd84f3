import type { JobOutcome, JsonObject, Manager, ManagerDefinition, TransformInput } from './contract.ts';
import { PermanentError } from './errors.ts';
import { guardTransform, unguarded } from './transform-guard.ts';

/** The transform of a manager that declares none: the row is the event. */
const passThrough = (input: TransformInput): JsonObject => input.event;

/** The `poll` functions defineManager filled in, to recognise them when a definition is re-spread. */
const fillerPolls = new WeakSet<object>();

/**
 * Declares a manager. Fills the defaults a fire-and-forget manager relies on (it never returns
 * imports, so `poll` and `getUploadStats` are never called; if they are, the router made a
 * mistake and says so) and freezes the definition.
 */
export function defineManager<Config = unknown, Row = unknown, Session = unknown>(
  definition: ManagerDefinition<Config, Row, Session>,
): Manager<Config, Row, Session> {
  let poll = definition.poll;
  if (!poll) {
    poll = async () => {
      throw new PermanentError(`manager "${definition.name}" is fire-and-forget and has no imports to poll`);
    };
    fillerPolls.add(poll);
  }
  const manager: Manager<Config, Row, Session> = {
    ...definition,
    limits: { ...(definition.limits ?? {}) },
    tuningDefaults: { ...(definition.tuningDefaults ?? {}) },
    // Also true for a definition spread from a fire-and-forget manager: it carries that one's filler.
    fireAndForget: fillerPolls.has(poll),
    // A spread definition carries the filled-in (guarded) transform along, and with it this flag.
    passesEventsThrough: definition.transform === undefined || (unguarded(definition.transform) as unknown) === passThrough,
    // Guarded: a hostile event (thousands of levels deep, a value the code did not expect) aborts
    // its job with a typed reason instead of an untyped throw the router could only guess at.
    transform: guardTransform(definition.name, definition.transform ?? (passThrough as (input: TransformInput) => Row)),
    poll,
    getUploadStats:
      definition.getUploadStats ??
      (async (_open, jobs): Promise<JobOutcome[]> => jobs.map((job) => ({ jobId: job.jobId, kind: 'succeeded' as const }))),
  };
  return Object.freeze(manager);
}

/** Marks every job of a batch succeeded: the usual result of a fire-and-forget upload. */
export function allSucceeded(jobIds: readonly string[]): { outcomes: JobOutcome[] } {
  return { outcomes: jobIds.map((jobId) => ({ jobId, kind: 'succeeded' as const })) };
}

/** The problems with a value that claims to be a manager definition; empty when it is sound. */
export function definitionProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return ['the default export is not an object made with defineManager()'];
  const def = value as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof def.name !== 'string' || !/^[a-z][a-z0-9-]*$/.test(def.name)) {
    problems.push('"name" must be lower-case letters, digits and dashes');
  }
  if (typeof def.description !== 'string') problems.push('"description" must be a string');
  const schema = def.configSchema as Record<string, unknown> | undefined;
  if (typeof schema?.parse !== 'function') problems.push('"configSchema" must be made with configSchema()');
  if (typeof def.upload !== 'function') problems.push('"upload" must be a function');
  for (const fn of ['transform', 'poll', 'getUploadStats', 'createSession', 'closeSession', 'cancelImport']) {
    if (def[fn] !== undefined && typeof def[fn] !== 'function') problems.push(`"${fn}" must be a function when present`);
  }
  return problems;
}
