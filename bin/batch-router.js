#!/usr/bin/env node
// Entry point of the `batch-router` command.
//
// In a checkout (src/ present) it runs the TypeScript sources through tsx, so there is no build step
// between an edit and a run. tsx is a development dependency: production installs and the Docker
// image ship only the compiled dist/ (no src/) and run it with plain Node, never loading tsx.
//
// Why tsx rather than Node's own type stripping (22.18+, 24): stripping runs only "erasable" syntax,
// and the sources use parameter properties (constructor(readonly x)) in places; tsx also keeps
// Node 20 and 22 before 22.18 working. Converting every file to erasable syntax is left for later.
import { existsSync } from 'node:fs';

const sourceDir = new URL('../src/', import.meta.url);
const compiled = new URL('../dist/src/cli/main.js', import.meta.url);

if (!existsSync(sourceDir) && existsSync(compiled)) {
  await import(compiled.href);
} else {
  // Dynamic imports only: a static import would be hoisted above the tsx registration.
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    if (existsSync(compiled)) {
      // A checkout installed with --omit=dev after a build: the compiled tree still runs.
      await import(compiled.href);
    } else {
      console.error(
        'batch-router: running from the sources needs tsx, a development dependency: ' +
          'run `npm ci` (without --omit=dev), or `npm run build` first to run the compiled code',
      );
      process.exit(1);
    }
  }
  if (register) {
    register();
    await import(new URL('../src/cli/main.ts', import.meta.url).href);
  }
}
