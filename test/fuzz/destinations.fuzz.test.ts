/**
 * The destinations file parser fed hostile files (random bytes, invalid UTF-8, hostile JSON,
 * prototype keys): it answers with a file error or destinations each valid or carrying an error
 * that names the problem; it never throws.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadDestinations } from '../../src/destinations.ts';
import { loadManagers } from '../../src/manager/registry.ts';
import { nastyJson, nastyString, RUNS } from './arbitraries.ts';

const entry = fc.record({
  id: fc.oneof(nastyString, fc.constant('ok-1'), nastyJson),
  manager: fc.oneof(fc.constantFrom('webhook', 'sftp', 'marketo-bulk-upload', '__proto__', 'constructor'), nastyString),
  enabled: nastyJson,
  config: fc.oneof(nastyJson, fc.constant({ url: 'http://127.0.0.1:9/x' })),
  tuning: nastyJson,
}, { requiredKeys: ['id', 'manager'] });

const fileContents = fc.oneof(
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
});
