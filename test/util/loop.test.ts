/**
 * The background loop keeps a wake that comes while a tick runs: the tick may have read the state
 * before the change the wake announces, so the loop must look again at once instead of sleeping.
 */
import { describe, expect, it } from 'vitest';
import { Loop } from '../../src/util/loop.ts';
import { silentLog } from '../helpers/router.ts';
import { waitFor } from '../helpers/wait-for.ts';

const LONG_SLEEP_MS = 60_000;

describe('Loop', () => {
  it('runs again at once when woken while a tick was running, not after its sleep', async () => {
    let ticks = 0;
    let loop: Loop | undefined = undefined;
    loop = new Loop('test', async () => {
      ticks += 1;
      if (ticks === 1) loop!.wake(); // new work announced while this tick is still looking
      return LONG_SLEEP_MS;
    }, silentLog);
    loop.start();
    try {
      await waitFor(() => ticks >= 2, { message: 'a second tick right after the first', timeoutMs: 10_000 });
      expect(ticks).toBe(2); // and then it sleeps: one wake, one extra look
    } finally {
      await loop.stop();
    }
  });

  it('cuts a running sleep short when woken', async () => {
    let ticks = 0;
    const loop = new Loop('test', async () => {
      ticks += 1;
      return LONG_SLEEP_MS;
    }, silentLog);
    loop.start();
    try {
      await waitFor(() => ticks === 1, { message: 'the first tick', timeoutMs: 10_000 });
      loop.wake();
      await waitFor(() => ticks === 2, { message: 'a tick after the wake', timeoutMs: 10_000 });
    } finally {
      await loop.stop();
    }
  });
});
