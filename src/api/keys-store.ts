/**
 * The API keys file. It holds only SHA-256 hashes of the keys, so a leaked file (or a backup of
 * it) grants nothing; the key itself is printed once by `batch-router keys create`. The daemon
 * re-reads the file when it changes (checked at most once a second), so a revocation takes
 * effect without a restart.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const SCOPES = ['events:write', 'jobs:read', 'jobs:read-payload', 'jobs:write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKeyRecord {
  /** `key_<hex>`: names the key in logs, `keys list` and `keys revoke`; not a secret. */
  id: string;
  name: string;
  /** `sha256:<hex>` of the whole key. */
  hash: string;
  scopes: Scope[];
  /** Destination ids this key may use; absent means every destination. */
  destinations?: string[];
  createdAt: string;
  revokedAt?: string;
}

const KEY_PREFIX = 'brk_';

export function hashKey(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

/** Reads the file; a missing file is an empty one. Throws an Error naming the file when it is malformed. */
export function readKeysFile(file: string): ApiKeyRecord[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`API keys file "${file}" could not be read: ${(error as Error).message}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`API keys file "${file}" is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error(`API keys file "${file}" must hold {"keys": [...]}; recreate it with batch-router keys create`);
  keys.forEach((k, i) => {
    const r = k as Partial<ApiKeyRecord>;
    const ok = typeof r.id === 'string' && typeof r.hash === 'string' && /^sha256:[0-9a-f]{64}$/.test(r.hash)
      && Array.isArray(r.scopes) && r.scopes.every((s) => (SCOPES as readonly string[]).includes(s))
      && (r.destinations === undefined || (Array.isArray(r.destinations) && r.destinations.every((d) => typeof d === 'string')));
    if (!ok) throw new Error(`API keys file "${file}": entry #${i + 1} is malformed (id, sha256 hash, known scopes); revoke and recreate it`);
  });
  return keys as ApiKeyRecord[];
}

/** Written to a temporary name and renamed, owner-readable only, so a reader never sees half a file. */
export function writeKeysFile(file: string, keys: readonly ApiKeyRecord[]): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Creates a key, records its hash, and returns the key itself (shown once, never stored). */
export function createKey(
  file: string,
  options: { name: string; scopes: Scope[]; destinations?: string[] | undefined },
): { key: string; record: ApiKeyRecord } {
  const keys = readKeysFile(file);
  const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  const record: ApiKeyRecord = {
    id: `key_${randomBytes(6).toString('hex')}`,
    name: options.name,
    hash: hashKey(key),
    scopes: [...new Set(options.scopes)],
    ...(options.destinations ? { destinations: [...new Set(options.destinations)] } : {}),
    createdAt: new Date().toISOString(),
  };
  writeKeysFile(file, [...keys, record]);
  return { key, record };
}

/** Marks a key revoked (kept in the file so `keys list` shows what happened). */
export function revokeKey(file: string, id: string): ApiKeyRecord | undefined {
  const keys = readKeysFile(file);
  const record = keys.find((k) => k.id === id);
  if (!record) return undefined;
  record.revokedAt ??= new Date().toISOString();
  writeKeysFile(file, keys);
  return record;
}

/** The daemon's view of the file: verifies presented keys, reloads on change. */
export class KeysStore {
  #keys: ApiKeyRecord[] = [];
  #mtimeMs = -1;
  #checkedAt = 0;

  constructor(readonly file: string, private readonly onReloadError: (error: Error) => void = () => {}) {
    this.#load(true);
  }

  /** Keys that are not revoked. */
  active(): ApiKeyRecord[] {
    this.#refresh();
    return this.#keys.filter((k) => !k.revokedAt);
  }

  /**
   * The key record matching `presented`, or undefined. Every active hash is compared in constant
   * time and the loop never stops early, so timing tells nothing about which (or whether a) key
   * was close.
   */
  verify(presented: string): ApiKeyRecord | undefined {
    const digest = Buffer.from(hashKey(presented));
    let found: ApiKeyRecord | undefined;
    for (const record of this.active()) {
      const stored = Buffer.from(record.hash);
      if (stored.length === digest.length && timingSafeEqual(stored, digest) && !found) found = record;
    }
    return found;
  }

  #refresh(): void {
    const now = Date.now();
    if (now - this.#checkedAt < 1000) return;
    this.#checkedAt = now;
    this.#load(false);
  }

  #load(initial: boolean): void {
    let mtimeMs = 0;
    try {
      mtimeMs = statSync(this.file).mtimeMs;
    } catch {
      mtimeMs = 0; // no file: no keys
    }
    if (mtimeMs === this.#mtimeMs) return;
    try {
      this.#keys = readKeysFile(this.file);
      this.#mtimeMs = mtimeMs;
    } catch (error) {
      // At start a broken file is fatal; later the keys in force stay until the file is fixed.
      if (initial) throw error;
      this.onReloadError(error as Error);
    }
  }
}
