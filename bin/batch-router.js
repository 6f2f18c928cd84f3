#!/usr/bin/env node
// Entry point of the `batch-router` command. In a checkout it runs the TypeScript sources through
// tsx, so there is no build step between an edit and a run. The Docker image ships only the
// compiled `dist/` (no `src/`), so there it runs the compiled code and never loads tsx.
import { existsSync } from 'node:fs';

const sourceDir = new URL('../src/', import.meta.url);
const compiled = new URL('../dist/src/cli/main.js', import.meta.url);

if (!existsSync(sourceDir) && existsSync(compiled)) {
  await import(compiled.href);
} else {
  // Dynamic imports only: a static import would be hoisted above the tsx registration.
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
