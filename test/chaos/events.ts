/**
 * The events of a chaos run: unique ids, spread over the destinations in turn; a small share of
 * those bound for row-judging vendors is built to be rejected by them.
 */
import { DESTINATION_IDS, REJECTING, ASYNC_REJECT_CODE, type DestinationId } from './destinations.ts';

export interface ChaosEvent {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  company: { name: string };
  fail?: string;
}

/** Every event of one batch goes to one destination. */
export interface EventBatch {
  readonly destination: DestinationId;
  readonly events: ChaosEvent[];
}

/** Every `REJECT_EVERY`th event for a rejecting destination is made unacceptable. */
const REJECT_EVERY = 37;

export function makeBatch(source: 'api' | 'cli', batchNo: number, size: number): EventBatch {
  const destination = DESTINATION_IDS[batchNo % DESTINATION_IDS.length]!;
  const events = Array.from({ length: size }, (_, i): ChaosEvent => {
    const id = `${source}-${batchNo}-${i}`;
    const reject = REJECTING[destination] !== undefined && i % REJECT_EVERY === 5;
    return {
      id,
      email: reject ? `reject-${id}@chaos.test` : `${id}@chaos.test`,
      firstName: 'Chaos',
      lastName: `Monkey ${i}`,
      company: { name: "O'Brien; DROP TABLE br_jobs; --" },
      ...(reject && destination === 'async-ops' ? { fail: ASYNC_REJECT_CODE } : {}),
    };
  });
  return { destination, events };
}

/** Whether the event was built to be rejected by its vendor. */
export const isRejectEvent = (payload: { email?: unknown }): boolean => String(payload.email ?? '').startsWith('reject-');
