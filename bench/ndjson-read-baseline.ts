/**
 * The no-op baseline next to `batch-router enqueue`: a bare Node process (started under the same
 * tsx loader as the CLI) that reads an NDJSON file line by line and parses every line, then exits.
 * The difference between the two rows is what the CLI does per event beyond reading its input:
 * checking each line, batching, the INSERTs and their transactions.
 *
 *   node --import tsx bench/ndjson-read-baseline.ts <file>     prints the number of events
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

const file = process.argv[2];
if (!file) throw new Error('usage: ndjson-read-baseline.ts <file.ndjson>');

let events = 0;
for await (const line of createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity })) {
  if (line.length === 0) continue;
  // Parsed like the CLI parses it, so both pay for reading and parsing; the result is dropped.
  JSON.parse(line);
  events += 1;
}
process.stdout.write(`${events}\n`);
