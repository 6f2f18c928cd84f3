/**
 * The lifecycle a manager's unit tests share with their vendor fake: one staging directory per test
 * file, and a fake started by each test and closed after it, so no test sees another's requests.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { tempDir } from '../conformance/harness.ts';

/** A test file's vendor fake and staging directory; `fake` is the one the current test started last. */
export interface FakeTestEnv<Fake, Options> {
  fake: Fake;
  stagingDir: string;
  start(options?: Options): Promise<Fake>;
}

/** Registers the hooks in the calling describe block; call it at the top of that block. */
export function fakeTestEnv<Fake extends { close(): unknown }, Options>(startFake: (options?: Options) => Promise<Fake>): FakeTestEnv<Fake, Options> {
  let staging: Awaited<ReturnType<typeof tempDir>> | undefined;
  const env = {
    stagingDir: '',
    async start(options?: Options) {
      env.fake = await startFake(options);
      return env.fake;
    },
  } as FakeTestEnv<Fake, Options>;
  beforeAll(async () => {
    staging = await tempDir();
    env.stagingDir = staging.path;
  });
  afterAll(() => staging?.dispose());
  afterEach(() => env.fake?.close());
  return env;
}
