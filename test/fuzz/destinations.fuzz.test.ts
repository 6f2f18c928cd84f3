/**
 * The destinations file parser fed hostile files (random bytes, invalid UTF-8, hostile JSON,
 * prototype keys, config and tuning nested thousands of levels deep): it answers with a file error or destinations each valid or carrying an error
 * that names the problem; it never throws.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadDestinations, MAX_CONFIG_DEPTH } from '../../src/destinations.ts';
import { loadManagers } from '../../src/manager/registry.ts';
import { nastyJson, nastyString, RUNS } from './arbitraries.ts';

const entry = fc.record({
  id: fc.oneof(nastyString, fc.constant('ok-1'), nastyJson),
  manager: fc.oneof(fc.constantFrom('webhook', 'sftp', 'marketo-bulk-upload', '__proto__', 'constructor'), nastyString),
  enabled: nastyJson,
  config: fc.oneof(nastyJson, fc.constant({ url: 'http://127.0.0.1:9/x' })),
  tuning: nastyJson,
}, { requiredKeys: ['id', 'manager'] });

/** An entry whose config or tuning is nested far past what a recursive walk survives. */
const deepEntry = fc.tuple(fc.integer({ min: 30, max: 50_000 }), fc.constantFrom('config', 'tuning'), fc.boolean()).map(([depth, field, arrays]) => {
  const deep = arrays ? `${'['.repeat(depth)}"\${HOME}"${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}"\${HOME}"${'}'.repeat(depth)}`;
  return Buffer.from(`[{"id":"deep","manager":"webhook","config":{"url":"http://127.0.0.1:9/x"},"${field}":${deep}}]`.replace(`"${field}":{"url":"http://127.0.0.1:9/x"},`, ''));
});

const fileContents = fc.oneof(
  deepEntry,
  fc.uint8Array({ maxLength: 500 }).map((b) => Buffer.from(b)),
  nastyJson.map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  fc.array(entry, { maxLength: 4 }).map((entries) => Buffer.from(JSON.stringify(entries))),
  fc.array(entry, { maxLength: 3 }).map((entries) => Buffer.from(`{"destinations": ${JSON.stringify(entries)}, "__proto__": {"polluted": 1}}`)),
);

describe('fuzz: destinations file', async () => {
  const registry = await loadManagers();
  const dir = mkdtempSync(join(tmpdir(), 'br-fuzz-dest-'));
  it('answers with a file error or checked destinations, never a throw', () => {
    fc.assert(fc.property(fileContents, (content) => {
      const file = join(dir, 'destinations.json');
      writeFileSync(file, content);
      const loaded = loadDestinations(file, registry, { HOME: '/root' });
      if (loaded.fileError) expect(loaded.fileError.length).toBeGreaterThan(0);
      for (const d of loaded.destinations) {
        if (!d.valid) expect(d.error, `invalid destination ${d.id} without an error`).toBeTruthy();
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    }), RUNS);
  });

  it('disables an entry nested too deep with a reason naming the field, and keeps the others', () => {
    const file = join(dir, 'deep.json');
    const deep = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`;
    writeFileSync(file, `[{"id":"deep","manager":"webhook","config":{"url":"http://127.0.0.1:9/x"},"tuning":${deep}},`
      + '{"id":"fine","manager":"webhook","config":{"url":"http://127.0.0.1:9/x"}}]');
    const [bad, fine] = loadDestinations(file, registry, {}).destinations;
    expect(bad).toMatchObject({ id: 'deep', valid: false, error: expect.stringContaining(`field "tuning" is nested more than ${MAX_CONFIG_DEPTH} levels deep`) });
    expect(fine).toMatchObject({ id: 'fine', valid: true });
  });
});
