// One job and its timeline: created, attempts and the last error, the upload and import it went
// through, and its final state with the reason. The payload is shown only when the API sends it,
// which it does only for keys with the jobs:read-payload scope.
import { can } from './actions.js';
import { api } from './api.js';
import { ErrorNote, Progress, StateBadge, Time, n } from './format.js';
import { html, usePolling } from './lib.js';

export function JobPage({ id, me }) {
  const { data, error } = usePolling(async () => {
    const job = await api(`/v1/jobs/${encodeURIComponent(id)}`);
    const upload = job.uploadId ? await api(`/v1/uploads/${encodeURIComponent(job.uploadId)}`).catch(() => null) : null;
    return { job, upload };
  }, 3000, [id]);
  if (!data) return html`<main><h1>Job ${id}</h1>${error ? html`<${ErrorNote} error=${error} what=${`job ${id}`} />` : html`<p class="loading">Loading…</p>`}</main>`;
  const { job, upload } = data;
  const imp = upload?.imports.find((i) => i.id === job.importId) ?? upload?.imports[0];
  const final = ['succeeded', 'aborted', 'cancelled'].includes(job.state);
  return html`<main>
    <p class="crumbs"><a href=${`#/destinations/${encodeURIComponent(job.destinationId)}`}>${job.destinationId}</a> › job ${job.id}</p>
    <h1>Job ${job.id} <${StateBadge} state=${job.state} /></h1>
    ${job.submissionId && html`<p>Part of submission <a href=${`#/submissions/${encodeURIComponent(job.submissionId)}`}>${job.submissionId}</a>.</p>`}
    <ol class="timeline">
      <li><strong>Accepted</strong> <${Time} at=${job.createdAt} /> <span class="muted">(${n(job.payloadBytes)} bytes)</span></li>
      <li><strong>${n(job.attempts)} attempt${job.attempts === 1 ? '' : 's'}</strong>
        ${job.nextAttemptAt && html` — next attempt <${Time} at=${job.nextAttemptAt} />`}</li>
      ${job.lastError && html`<li><strong>Last error</strong> <code>${job.errorCode ?? ''}</code>${job.vendorCode ? html` vendor code <code>${job.vendorCode}</code>` : ''}: <span class="reason">${job.lastError}</span></li>`}
      ${upload && html`<li><strong>Upload #${upload.id}</strong> <${StateBadge} state=${upload.state} /> attempt ${upload.attempt}, ${n(upload.jobCount)} jobs, started <${Time} at=${upload.createdAt} />
        ${upload.lastError && html`<div class="reason">${upload.lastError}</div>`}</li>`}
      ${imp && html`<li><strong>Import ${imp.vendorId ? html`<code>${imp.vendorId}</code>` : `#${imp.id}`}</strong> <${StateBadge} state=${imp.state} />
        ${imp.progress !== null && html`<${Progress} value=${imp.progress} label="import progress" />`} ${n(imp.pollCount)} polls</li>`}
      <li><strong>${final ? `Final: ${job.state}` : `Now: ${job.state}`}</strong> ${final && html`<${Time} at=${job.finishedAt} />`}
        ${job.reason && html`<div class="reason">${job.reason}</div>`}</li>
    </ol>
    <h2>Payload</h2>
    ${job.payload ? html`<pre class="payload">${JSON.stringify(job.payload, null, 2)}</pre>`
      : html`<p class="muted">${can(me, 'jobs:read-payload') ? 'The payload is no longer stored.' : 'Hidden: this key lacks the jobs:read-payload scope.'}</p>`}
  </main>`;
}
