/**
 * W2 for the systems that take part (batch-router-webhook, sql-floor, pg-boss, graphile-worker;
 * the Marketo fake measures bulk imports, not latency): every round runs each rate for each
 * system, rates outermost within a round and systems innermost, so A B C D at 1k, then A B C D
 * at 5k, ..., and round 2 again: every system meets the machine in the same states.
 */
import { sizeLabel, type BenchSettings } from '../lib/flags.ts';
import { steadyRow } from '../lib/rows.ts';
import type { BurnDownSystem, PhaseResult } from '../lib/types.ts';
import { runSteadyRate, type SteadyRunResult } from '../workloads/steady-rate.ts';

export const STEADY_RATE_SYSTEMS = ['batch-router-webhook', 'sql-floor', 'pg-boss', 'graphile-worker'] as const;

export async function runSteadyRateRounds(
  systems: readonly BurnDownSystem[],
  settings: BenchSettings,
  options: { adminUrl: string; progress: (line: string) => void },
): Promise<PhaseResult> {
  const w2 = settings.w2;
  const taking = systems.filter((s) => (STEADY_RATE_SYSTEMS as readonly string[]).includes(s.name));
  if (!w2 || taking.length === 0) return { rows: [], raw: [] };
  const key = (system: string, rate: number) => `${system}@${rate}`;
  const results = new Map<string, SteadyRunResult[]>();
  for (let run = 1; run <= settings.runs; run++) {
    for (const rate of w2.rates) {
      for (const system of taking) {
        options.progress(`${system.name}: W2 run ${run}/${settings.runs}, ${rate}/s for ${w2.durationMs / 1000} s`);
        const result = await runSteadyRate(system, { ...w2, ratePerSec: rate, adminUrl: options.adminUrl });
        const { latency, producer } = result;
        options.progress(
          `  delivered ${Math.round(result.deliveredPerSec)}/s (enqueued ${Math.round(producer.perSec)}/s, producer late by up to ` +
            `${producer.maxLagMs.toFixed(0)} ms), latency p50 ${latency.p50.toFixed(1)} / p95 ${latency.p95.toFixed(1)} / ` +
            `p99 ${latency.p99.toFixed(1)} / max ${latency.max.toFixed(1)} ms, dup ${result.duplicates}, lost ${result.lost}, ` +
            `consumer ${result.consumer.cpuSeconds.toFixed(2)} CPU s, postgres ${result.pgCpuSeconds?.toFixed(2) ?? '?'} CPU s`,
        );
        if (!results.has(key(system.name, rate))) results.set(key(system.name, rate), []);
        results.get(key(system.name, rate))!.push(result);
      }
    }
  }
  const phase: PhaseResult = { rows: [], raw: [] };
  for (const rate of w2.rates) {
    for (const system of taking) {
      const workload = `W2-steady-${sizeLabel(rate)}`;
      const runs = results.get(key(system.name, rate))!;
      phase.rows.push(steadyRow(system.name, workload, runs));
      phase.raw.push({ system: system.name, workload, runs });
    }
  }
  return phase;
}
