/**
 * Discovers managers: every directory under `managers/` with an `index.ts` (or compiled
 * `index.js`) is one. There is no second place to register a manager. A directory whose module
 * fails to load, exports something malformed, or reuses another's name fails start with a message
 * naming that directory.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Manager } from './contract.ts';
import { definitionProblems } from './define.ts';

export type ManagerRegistry = ReadonlyMap<string, Manager>;

/** `managers/` next to `src/`, in the source tree and in `dist/` alike. */
export const defaultManagersDir = fileURLToPath(new URL('../../managers', import.meta.url));

export class ManagerLoadError extends Error {
  constructor(
    readonly directory: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`manager in ${directory}: ${message}`, options);
    this.name = 'ManagerLoadError';
  }
}

export async function loadManagers(managersDir = defaultManagersDir): Promise<ManagerRegistry> {
  const registry = new Map<string, Manager>();
  const seenIn = new Map<string, string>();
  const entries = readdirSync(managersDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.') && !entry.name.startsWith('_'))
    .map((entry) => entry.name)
    .sort();
  for (const dirName of entries) {
    const directory = join(managersDir, dirName);
    const file = ['index.ts', 'index.js'].map((name) => join(directory, name)).find((path) => existsSync(path));
    if (!file) continue; // a folder of shared helpers, not a manager
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
    } catch (error) {
      throw new ManagerLoadError(directory, `index failed to load: ${(error as Error).message}`, { cause: error });
    }
    const problems = definitionProblems(mod.default);
    if (problems.length > 0) throw new ManagerLoadError(directory, problems.join('; '));
    const manager = mod.default as Manager;
    if (manager.name !== dirName) {
      throw new ManagerLoadError(directory, `name "${manager.name}" must equal the directory name "${dirName}"`);
    }
    const previous = seenIn.get(manager.name);
    if (previous) throw new ManagerLoadError(directory, `name "${manager.name}" is already used by ${previous}`);
    seenIn.set(manager.name, directory);
    registry.set(manager.name, manager);
  }
  return registry;
}
