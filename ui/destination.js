// One destination: its figures, recent uploads with their imports, failures grouped by reason, and
// the actions the key's scopes allow (retry aborted jobs, all or by reason; cancel waiting jobs).
import { can, ConfirmButton } from './actions.js';
import { api, query } from './api.js';
import { ErrorNote, MinuteChart, Progress, STATES, StateBadge, Time, duration, n } from './format.js';
import { html, usePolling } from './lib.js';
import { REFRESH_MS } from './overview.js';

const REASON_LIMIT = 500; // the API's maxLength for reasonContains

function Failures({ id, failures, me, reload }) {
  if (failures.length === 0) return html`<p class="empty">No aborted jobs. Failures appear here grouped by reason.</p>`;
  const write = can(me, 'jobs:write');
  return html`<table class="failures">
    <thead><tr><th scope="col">Reason</th><th scope="col">Code</th><th scope="col" class="num">Jobs</th><th scope="col">Latest</th>${write && html`<th scope="col">Action</th>`}</tr></thead>
    <tbody>${failures.map((f) => html`<tr data-reason-count=${f.count}>
      <td class="reason">${f.reason}</td><td><code>${f.errorCode ?? '—'}</code></td><td class="num">${n(f.count)}</td><td><${Time} at=${f.lastAt} /></td>
      ${write && html`<td><${ConfirmButton} label="Retry" count=${f.count} onDone=${reload}
        question=${`Requeue the aborted jobs of ${id} whose reason contains “${f.reason.slice(0, REASON_LIMIT)}”?`}
        run=${async () => `Requeued ${n((await api(`/v1/destinations/${encodeURIComponent(id)}/retry`, { method: 'POST', body: { reasonContains: f.reason.slice(0, REASON_LIMIT) } })).requeued)} jobs.`} /></td>`}
    </tr>`)}</tbody></table>`;
}

function Uploads({ uploads }) {
  if (uploads.length === 0) return html`<p class="empty">No uploads yet. Submit events to this destination and they appear here.</p>`;
  return html`<table class="uploads">
    <thead><tr><th scope="col">Upload</th><th scope="col">State</th><th scope="col" class="num">Jobs</th><th scope="col">Jobs final</th><th scope="col">Imports (vendor id, progress)</th><th scope="col">Started</th></tr></thead>
    <tbody>${uploads.map((u) => {
      const final = u.counts.succeeded + u.counts.aborted + u.counts.cancelled;
      return html`<tr key=${u.id}>
        <td>#${u.id} <span class="muted">attempt ${u.attempt}</span>
          ${u.lastError && html`<div class="reason">${u.lastError}</div>`}</td>
        <td><${StateBadge} state=${u.state} /></td>
        <td class="num">${n(u.jobCount)}</td>
        <td><${Progress} value=${u.counts.total ? (final / u.counts.total) * 100 : 0} label=${`upload ${u.id}: jobs final`} />
          <div class="muted">${n(u.counts.succeeded)} succeeded, ${n(u.counts.aborted)} aborted</div></td>
        <td>${u.imports.length === 0 ? html`<span class="muted">none</span>` : u.imports.map((i) => html`<div>
          <code>${i.vendorId ?? `import ${i.id}`}</code> <${StateBadge} state=${i.state} />
          ${i.progress !== null && html`<${Progress} value=${i.progress} label=${`import ${i.id} progress`} />`}
          <span class="muted">${n(i.pollCount)} polls</span>${i.lastError && html`<div class="reason">${i.lastError}</div>`}</div>`)}</td>
        <td><${Time} at=${u.createdAt} /></td>
      </tr>`;
    })}</tbody></table>`;
}

export function DestinationPage({ id, me }) {
  const path = `/v1/destinations/${encodeURIComponent(id)}`;
  const { data, error, reload } = usePolling(async () => {
    const [d, f, u] = await Promise.all([api(path), api(`${path}/failures`), api(`${path}/uploads?limit=10`)]);
    return { d, failures: f.failures, uploads: u.uploads };
  }, REFRESH_MS, [id]);
  if (!data) return html`<main><h1>${id}</h1>${error ? html`<${ErrorNote} error=${error} what=${`destination “${id}”`} />` : html`<p class="loading">Loading…</p>`}</main>`;
  const { d, failures, uploads } = data;
  const write = can(me, 'jobs:write');
  return html`<main>
    <p class="crumbs"><a href="#/">Overview</a> › ${d.id}</p>
    <h1>${d.id} <span class="muted">(${d.manager})</span> <span class=${`badge status-${d.status}`}>${d.status === 'invalid' ? 'broken config' : d.status}</span></h1>
    ${d.error && html`<div class="error" role="alert"><strong>Configuration problem:</strong> ${d.error} Fix the destinations file and restart batch-router.</div>`}
    <${ErrorNote} error=${error} what="the latest figures (showing the previous ones)" />
    <dl class="figures">
      ${STATES.map((s) => html`<div><dt><a href=${`#/jobs${query({ destinationId: d.id, state: s })}`}>${s}</a></dt><dd data-state=${s}>${n(d.backlog[s])}</dd></div>`)}
      <div><dt>Uploads / imports in flight</dt><dd>${n(d.health.uploadsInFlight)} / ${n(d.health.openImports)}</dd></div>
      <div><dt>Median upload</dt><dd>${duration(d.medianUploadSeconds)}</dd></div>
      <div><dt>Oldest waiting</dt><dd>${d.oldestWaitingSeconds === null ? 'none' : duration(d.oldestWaitingSeconds)}</dd></div>
      <div><dt>Delivered, last hour</dt><dd><${MinuteChart} series=${d.deliveredPerMinute} /></dd></div>
    </dl>
    ${d.health.lastError && html`<p><strong>Latest vendor error</strong> (<${Time} at=${d.health.lastErrorAt} />): <span class="reason">${d.health.lastError}</span></p>`}
    <section aria-labelledby="actions-h">
      <h2 id="actions-h">Actions</h2>
      ${write ? html`<div class="actions">
          <${ConfirmButton} label="Retry all aborted" count=${d.backlog.aborted} onDone=${reload}
            question=${`Requeue every aborted job of ${d.id}? They are delivered again from the start.`}
            run=${async () => `Requeued ${n((await api(`${path}/retry`, { method: 'POST', body: {} })).requeued)} jobs.`} />
          <${ConfirmButton} label="Cancel waiting" count=${d.backlog.waiting} danger onDone=${reload}
            question=${`Cancel every waiting job of ${d.id}? Cancelled jobs are never delivered; jobs already being uploaded finish on their own.`}
            run=${async () => `Cancelled ${n((await api(`${path}/cancel`, { method: 'POST' })).cancelled)} jobs.`} />
        </div>
        <p class="muted">Pausing a destination is not offered: the API has no pause. Disable it in the destinations file instead.</p>`
      : html`<p class="muted" data-testid="no-actions">This key has no <code>jobs:write</code> scope, so retry and cancel are not offered.</p>`}
    </section>
    <section aria-labelledby="failures-h"><h2 id="failures-h">Failures by reason</h2><${Failures} id=${d.id} failures=${failures} me=${me} reload=${reload} /></section>
    <section aria-labelledby="uploads-h"><h2 id="uploads-h">Recent uploads</h2><${Uploads} uploads=${uploads} /></section>
  </main>`;
}
