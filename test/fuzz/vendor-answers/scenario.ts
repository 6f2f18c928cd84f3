/**
 * One fuzz case: a fresh vendor fake behind a fresh garbage gate, the manager driven through its
 * contract, and the property checked on how the flow ended. Each manager's test supplies the fake,
 * which requests belong to each step, the garbage per step and which jobs that garbage could
 * legitimately prove delivered.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject, Manager } from '../../../src/manager/contract.ts';
import { silentLog, tempDir } from '../../conformance/harness.ts';
import { runFlow, type FlowEnd } from './drive.ts';
import { GarbageGate, type GarbageReply, type GateRequest } from './garbage-gate.ts';
import { fuzzRuns, timeBudget } from './garbage.ts';

/** Which jobs (by event index) a garbage answer may prove delivered: all, or these. */
export type Named = 'all' | ReadonlySet<number>;

export interface Garbage {
  /** The answer to every request of the step, by request. */
  readonly reply: (request: GateRequest) => GarbageReply;
  /**
   * Event indexes this garbage (with the genuine answers of the other steps) may prove
   * delivered: a well-formed success answer names them. Steps that carry no evidence of
   * delivery (token, upload) leave it undefined: the fake's genuine answers decide.
   */
  readonly named?: Named;
  /** The garbage in words, for a failure's message. */
  readonly shown?: string;
}

/** A reply as text for messages: status, headers, the body's first bytes, where it was cut. */
export function showReply(reply: GarbageReply): string {
  const body = Buffer.from(reply.body).toString('utf8');
  return `${reply.status} ${JSON.stringify(reply.headers)} ${JSON.stringify(body.slice(0, 400))}${body.length > 400 ? '…' : ''}${reply.resetAfter === undefined ? '' : ` (reset after ${reply.resetAfter} bytes)`}`;
}

export interface Vendor {
  readonly url: string;
  completeAll(): void | Promise<void>;
  close(): Promise<void>;
}

export interface Scenario<Config, Session, V extends Vendor = Vendor> {
  readonly manager: Manager<Config, unknown, Session>;
  readonly events: readonly JsonObject[];
  readonly stagingDir: string;
  startVendor(): Promise<V>;
  /** The destination's raw config, pointing at `url` (the gate). */
  config(url: string, vendor: V): Record<string, unknown>;
  /** True when the request belongs to the step under test. */
  inStep(request: GateRequest): boolean;
}

/** Runs one case; fails (through expect) on an untyped throw, a hang, or a success without evidence. */
export async function garbageCase<Config, Session, V extends Vendor>(scenario: Scenario<Config, Session, V>, garbage: Garbage): Promise<FlowEnd & { served: number }> {
  const vendor = await scenario.startVendor();
  const gate = await GarbageGate.start(vendor.url, (request) => (scenario.inStep(request) ? garbage.reply(request) : undefined));
  try {
    const config = scenario.manager.configSchema.parse(scenario.config(gate.url, vendor));
    const session = scenario.manager.createSession?.(config, 'fuzz-dest', silentLog) as Session;
    try {
      const end = await runFlow({ manager: scenario.manager, config, session, events: scenario.events, stagingDir: scenario.stagingDir, completeImports: () => vendor.completeAll() });
      expectEvidence(end, garbage.named, garbage.shown ?? '');
      return { ...end, served: gate.garbageServed };
    } catch (error) {
      // fast-check prints the garbage as a closure; say what it was.
      if (error instanceof Error && garbage.shown) error.message += `\n  garbage: ${garbage.shown}`;
      throw error;
    } finally {
      if (session !== undefined) await scenario.manager.closeSession?.(session);
    }
  } finally {
    await gate.close();
    await vendor.close();
  }
}

/** No job succeeded unless the garbage, read as a valid success answer, names it. */
function expectEvidence(end: FlowEnd, named: Named | undefined, shown: string): void {
  if (named === undefined || named === 'all') return;
  end.jobIds.forEach((jobId, index) => {
    const outcome = end.outcomes.get(jobId);
    if (outcome?.kind === 'succeeded' && !named.has(index)) {
      expect.fail(`job ${index} (${jobId}) succeeded without the vendor's evidence: ${JSON.stringify(outcome)}; garbage ${shown}`);
    }
  });
}

/** True when the reply reaches the manager whole with a 2xx status. */
export const delivered = (reply: GarbageReply): boolean => reply.status >= 200 && reply.status < 300 && reply.resetAfter === undefined;

/** The same reply to every request of the step, proving nothing by itself. */
export const fixed = (replies: fc.Arbitrary<GarbageReply>): fc.Arbitrary<Garbage> => replies.map((r) => ({ reply: () => r, shown: showReply(r) }));

/**
 * Time for the cases of one step; a busy machine runs fewer of them. 14 steps in three files spend
 * at most ~42 s of test time, about half that in wall time on the suite's two workers.
 */
const STEP_BUDGET_MS = 3_000;

/**
 * One test per step: `garbage[step]` answers that step's requests, everything else is the fake's.
 * `scenario(step, stagingDir)` builds the case; `numRuns` per step, within STEP_BUDGET_MS (set
 * FUZZ_REPORT=1 to print how many ran).
 */
export function describeGarbageSteps<V extends Vendor>(
  title: string,
  garbage: Record<string, fc.Arbitrary<Garbage>>,
  scenario: (step: string, stagingDir: string) => Scenario<unknown, unknown, V>,
  numRuns = 40,
): void {
  describe(title, () => {
    let staging: Awaited<ReturnType<typeof tempDir>>;
    beforeAll(async () => {
      staging = await tempDir('br-fuzz-vendor-');
    });
    afterAll(() => staging?.dispose());
    for (const [step, answers] of Object.entries(garbage)) {
      it(`garbage at the ${step} step: typed errors or valid outcomes, never a success without evidence`, async () => {
        const cases = scenario(step, staging.path);
        const budget = timeBudget(STEP_BUDGET_MS);
        let runs = 0;
        let reached = 0;
        await fc.assert(fc.asyncProperty(answers, async (g) => {
          if (budget.spent()) return;
          const end = await garbageCase(cases, g);
          runs += 1;
          if (end.served > 0) reached += 1;
        }), fuzzRuns(numRuns));
        if (process.env.FUZZ_REPORT) console.info(`${title} / ${step}: ${runs} runs, garbage served in ${reached}`);
        // A step the flow never reaches would pass vacuously.
        expect(reached, `garbage served in ${reached} of ${runs} runs`).toBeGreaterThan(runs / 2);
      }, 60_000);
    }
  });
}
