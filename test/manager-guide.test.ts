/**
 * The manager guide's code must compile as written: its ```ts block that calls defineManager is
 * copied into a directory two levels below the repository root (where its `../../src/...` imports
 * resolve exactly as from managers/<name>/index.ts) and type-checked with the project's compiler
 * settings. A renamed export or a changed signature fails here instead of misleading a reader.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

function guideSnippet(): string {
  const guide = readFileSync(join(ROOT, 'managers', 'README.md'), 'utf8');
  const blocks = [...guide.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
  const snippet = blocks.find((block) => block.includes('defineManager'));
  if (!snippet) throw new Error('managers/README.md has no ```ts block using defineManager');
  return snippet;
}

it('the defineManager snippet of managers/README.md type-checks, and says where defineManager comes from', async () => {
  const snippet = guideSnippet();
  expect(snippet).toContain("import { defineManager } from '../../src/manager/define.ts';");
  const dir = mkdtempSync(join(ROOT, 'test', '.guide-'));
  try {
    writeFileSync(join(dir, 'index.ts'), snippet);
    // The guide says one type argument is enough: prove it beside the snippet.
    writeFileSync(
      join(dir, 'one-type-argument.ts'),
      "import { configSchema, f } from '../../src/manager/config-schema.ts';\n" +
        "import { allSucceeded, defineManager } from '../../src/manager/define.ts';\n" +
        "const schema = configSchema({ url: f.url({ doc: 'where to send' }) });\n" +
        'export default defineManager<ReturnType<typeof schema.parse>>({\n' +
        "  name: 'one', description: 'one type argument', configSchema: schema,\n" +
        '  upload: async (batch) => allSucceeded(batch.jobIds),\n});\n',
    );
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: '../../tsconfig.json', compilerOptions: { noEmit: true, rootDir: '../..' }, include: ['*.ts'] }));
    const result = await promisify(execFile)(process.execPath, [TSC, '-p', join(dir, 'tsconfig.json')]).catch((error: { stdout?: string; code?: number }) => error);
    expect('code' in result && result.code ? result.stdout : '', 'tsc errors in the guide snippet').toBe('');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
