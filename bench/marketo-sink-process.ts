/**
 * The Marketo fake (managers/marketo-bulk-upload/test/marketo-fake.ts) as the benchmark's receiver, in its own process
 * like the webhook sink: parsing multipart CSV files costs real CPU that must not be billed to
 * the daemon. Imports complete on their first status check and no row fails
 * (`autoCompleteAfterPolls: 1`).
 *
 * Rows are counted as they arrive: the benchmark maps the event `id` to Marketo's `email` column
 * (the lookup field), so every row carries the id, and the per-row hook of the fake counts unique
 * ids and duplicates. Answers `stats` / `stop` with the same shape as bench/sink-process.ts.
 */
import { startMarketoFake } from '../managers/marketo-bulk-upload/test/marketo-fake.ts';
import { markStart, processStats, serveRunner } from './lib/child.ts';
import type { SinkReport } from './sink-process.ts';

/** The CSV column that carries the event id (see bench/systems/batch-router-marketo.ts). */
const ID_COLUMN = 'email';

const ids = new Set<string>();
let received = 0;
let duplicates = 0;
const fake = await startMarketoFake({
  autoCompleteAfterPolls: 1,
  rowOutcome: (row) => {
    received += 1;
    const id = row[ID_COLUMN] ?? '';
    if (ids.has(id)) duplicates += 1;
    else ids.add(id);
    return undefined;
  },
});

function report(): SinkReport {
  return {
    received,
    unique: ids.size,
    duplicates,
    requests: fake.imports.size,
    rejected: fake.codesSent.length,
    // Rows arrive per import, not per POST: the runner falls back to its own end-to-end clock.
    firstDeliveryAt: null,
    lastDeliveryAt: null,
    eventsAtFirstDelivery: 0,
    ...processStats(),
  };
}

process.stderr.write(`marketo fake listening on ${fake.url}\n`);
serveRunner(
  { url: fake.url, config: fake.config({ fieldMapping: { id: ID_COLUMN, userId: 'firstName', 'properties.orderId': 'company' } }) },
  {
    mark: () => markStart(),
    stats: () => {
      // The fake keeps every row of an import when a row hook is set; the benchmark needs only the
      // counters, so completed imports drop theirs to keep the receiver's memory flat.
      for (const imp of fake.imports.values()) if (imp.status === 'Complete' && imp.records.length) imp.records.length = 0;
      return report();
    },
    stop: async () => {
      const last = report();
      await fake.close();
      return last;
    },
  },
);
