/**
 * A plain-JavaScript copy of the CLI's sources for the tests' child processes, built once per
 * `vitest run` by global-setup.ts.
 *
 * bin/batch-router.js runs the TypeScript sources through tsx, whose loader sees every module the
 * CLI imports; on a busy 2-core machine that made each CLI start cost seconds, and the CLI tests
 * start dozens. The copy keeps the checkout's layout (src/, managers/, migrations/, ui/), so
 * migrations, managers and the dashboard are found the way dist/ finds them, and it sits under
 * node_modules/.cache so its bare imports resolve to the checkout's node_modules. One test still
 * runs bin/batch-router.js itself (test/cli/reference.test.ts), as users do.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOURCE_DIRS = ['src', 'managers', 'migrations'];
/** Set by global-setup.ts for the workers it forks: the built copy's src/cli/main.js. */
export const CLI_BUILD_ENV = 'BR_TEST_CLI_ENTRY';

export interface CliBuild {
  entry: string;
  /** Rebuilds in place (vitest watch mode calls it before each rerun, so edits are seen). */
  rebuild(): Promise<void>;
  remove(): void;
}

export async function buildCli(): Promise<CliBuild> {
  const cacheDir = join(ROOT, 'node_modules', '.cache');
  mkdirSync(cacheDir, { recursive: true });
  const dir = mkdtempSync(join(cacheDir, 'batch-router-cli-'));
  // ui/ beside src/, as in a checkout: the dashboard's files are found relative to the module.
  symlinkSync(join(ROOT, 'ui'), join(dir, 'ui'), 'dir');
  const rebuild = () => compileInto(dir);
  await rebuild();
  return { entry: join(dir, 'src', 'cli', 'main.js'), rebuild, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function compileInto(dir: string): Promise<void> {
  // Loaded here, not at the top: workers import this file for CLI_BUILD_ENV and never compile.
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: SOURCE_DIRS.flatMap((name) => sourceFiles(join(ROOT, name))),
    outdir: dir,
    outbase: ROOT,
    tsconfig: join(ROOT, 'tsconfig.json'),
    format: 'esm',
    platform: 'node',
    target: `node${process.versions.node}`,
    bundle: false,
    write: false,
    logLevel: 'warning',
  });
  for (const file of result.outputFiles) {
    mkdirSync(dirname(file.path), { recursive: true });
    writeFileSync(file.path, withJsSpecifiers(file.text));
  }
}

/** The sources `npm run build` compiles: no tests, no managers' test folders. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'test' ? [] : sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : [];
  });
}

/**
 * The sources import each other as `./x.ts`; tsc's rewriteRelativeImportExtensions turns that into
 * `./x.js` in a build, and esbuild, which compiles file by file here, leaves it alone.
 */
export function withJsSpecifiers(code: string): string {
  return code.replace(/(\bfrom\s*|\bimport\s*\(?\s*)(["'])(\.\.?\/[^"']*)\.ts\2/g, '$1$2$3.js$2');
}
