/**
 * The destination predicate of a statement that is otherwise keyed by an upload, import or job id.
 * On one PostgreSQL the id alone finds the row; a store distributed by `destination_id` (Citus,
 * docs/store-design.md "Scaling past one database") can route a statement to one shard only when
 * every distributed table in it is filtered by, or joined on, the destination. Callers that know
 * the destination (the router always does) pass it; without one the predicate is `true`, which
 * keeps operator tools and the conformance suite working unchanged on one database.
 */
import { sql, type RawBuilder } from 'kysely';

export function sameDestination(
  column: RawBuilder<unknown> | ReturnType<typeof sql.ref>,
  /** A value, or (in the claim function's body) SQL naming the function's argument. */
  destinationId: string | RawBuilder<unknown> | undefined,
): RawBuilder<boolean> {
  return destinationId === undefined ? sql<boolean>`true` : sql<boolean>`${column} = ${destinationId}`;
}
