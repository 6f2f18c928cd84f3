/** The chaos run's summary table, as printed and as pasted into test/chaos/README.md. */
import type { ChaosReport } from './scenario.ts';

export function summaryTable(report: ChaosReport): string {
  const { verdict } = report;
  const perKill = (n: number) => (report.kills === 0 ? '-' : (n / report.kills).toFixed(2));
  const lines = [
    `events ${report.events} · kills ${report.kills} · PostgreSQL restarts ${report.pgRestarts} · daemon crashes ${report.crashes.length} · `
      + `API retries ${report.apiRetries} · CLI re-runs ${report.cliReruns} · idempotency breaches ${verdict.idempotencyBreaches} · `
      + `CLI re-run duplicates ${verdict.cliRerunDuplicates} · ${report.seconds} s`,
    '',
    '| destination | produced | succeeded | aborted | stuck | lost | aborted w/o reason | wrong outcome | duplicates | duplicates per kill | accepted under 2 keys |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...verdict.destinations.map((d) =>
      `| ${d.destination} | ${d.produced} | ${d.succeeded} | ${d.aborted} | ${d.stuck} | ${d.lost} | ${d.abortedWithoutReason} | ${d.wrongOutcome} | ${d.duplicates} | ${perKill(d.duplicates)} | ${d.acceptedUnderTwoKeys} |`),
  ];
  const total = verdict.destinations.reduce((sum, d) => ({ lost: sum.lost + d.lost, dup: sum.dup + d.duplicates, produced: sum.produced + d.produced }), { lost: 0, dup: 0, produced: 0 });
  lines.push(`| **all** | ${total.produced} | | | | ${total.lost} | | | ${total.dup} | ${perKill(total.dup)} | |`);
  const examples = verdict.destinations.flatMap((d) => d.examples.map((e) => `${d.destination}: ${e}`));
  if (examples.length) lines.push('', 'examples:', ...examples.map((e) => `  ${e}`));
  if (report.crashes.length) lines.push('', 'crashes:', ...report.crashes.slice(0, 5).map((c) => `  ${c}`));
  return lines.join('\n');
}
