/**
 * The guard defineManager puts around every manager's `transform`, so the contract "a bad event
 * aborts its job with a reason" holds whatever the event: events enqueued by the CLI or inserted
 * in SQL skip the API's depth limit, and a transform that walks or serialises a few thousand
 * levels overflows the stack with an untyped RangeError. Deeper than the deepest event the API can
 * be configured to accept is refused before the transform runs; anything else a transform throws
 * that is not a typed RouterError becomes a PermanentError naming what failed.
 */
import { depthOf } from '../util/json-depth.ts';
import type { TransformInput } from './contract.ts';
import { ERROR_CODES } from './error-codes.ts';
import { PermanentError, RouterError, toError } from './errors.ts';

/** Deepest event a transform is given: the highest BATCH_ROUTER_API_MAX_EVENT_DEPTH allows. */
export const MAX_TRANSFORM_DEPTH = 1000;

type Transform<Config, Row> = (input: TransformInput, config: Config) => Row;

/** Guarded transform → the manager's own, so a re-spread definition is guarded once, not twice. */
const originals = new WeakMap<object, Transform<never, unknown>>();

/** The manager's own transform behind a guarded one (itself when it is not guarded). */
export function unguarded<Config, Row>(transform: Transform<Config, Row>): Transform<Config, Row> {
  return (originals.get(transform) as Transform<Config, Row> | undefined) ?? transform;
}

/** `transform` wrapped so that it returns a row or throws a RouterError, never anything else. */
export function guardTransform<Config, Row>(managerName: string, transform: Transform<Config, Row>): Transform<Config, Row> {
  const inner = unguarded(transform);
  const guarded: Transform<Config, Row> = (input, config) => {
    if (depthOf(input.event, MAX_TRANSFORM_DEPTH) > MAX_TRANSFORM_DEPTH) {
      throw new PermanentError(
        `event is nested more than ${MAX_TRANSFORM_DEPTH} levels deep (objects and arrays count), deeper than any row ${managerName} can be given: flatten it`,
        { code: ERROR_CODES.badEvent },
      );
    }
    try {
      return inner(input, config);
    } catch (thrown) {
      if (thrown instanceof RouterError) throw thrown;
      const error = toError(thrown);
      throw new PermanentError(`${managerName} could not turn the event into a row: ${error.message}`, { cause: error, code: ERROR_CODES.badEvent });
    }
  };
  originals.set(guarded, inner as Transform<never, unknown>);
  return guarded;
}
