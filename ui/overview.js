// Every destination at a glance, refreshed every few seconds from GET /v1/destinations.
import { api } from './api.js';
import { ErrorNote, MinuteChart, STATES, Time, duration, n } from './format.js';
import { html, usePolling } from './lib.js';

export const REFRESH_MS = 3000;

const STATUS_WORDS = { ready: 'ready', disabled: 'disabled', invalid: 'broken config' };

function DestinationRow({ d }) {
  const b = d.backlog;
  return html`<tr data-destination=${d.id}>
    <th scope="row"><a href=${`#/destinations/${encodeURIComponent(d.id)}`}>${d.id}</a><div class="muted">${d.manager}</div></th>
    <td><span class=${`badge status-${d.status}`}>${STATUS_WORDS[d.status] ?? d.status}</span>
      ${d.error && html`<div class="reason">${d.error}</div>`}</td>
    ${STATES.map((s) => html`<td class=${`num count-${s}`} data-state=${s}>${n(b[s])}</td>`)}
    <td><${MinuteChart} series=${d.deliveredPerMinute} /></td>
    <td class="num">${duration(d.medianUploadSeconds)}</td>
    <td class="num" data-field="in-flight">${n(d.health.uploadsInFlight)} / ${n(d.health.openImports)}</td>
    <td class="num">${d.oldestWaitingSeconds === null ? 'none' : duration(d.oldestWaitingSeconds)}</td>
  </tr>`;
}

export function Overview() {
  const { data, error, at } = usePolling(() => api('/v1/destinations'), REFRESH_MS);
  const list = data?.destinations;
  const totals = Object.fromEntries(STATES.map((s) => [s, (list ?? []).reduce((sum, d) => sum + d.backlog[s], 0)]));
  return html`<main>
    <div class="title-row">
      <h1>Destinations</h1>
      <p class="muted" aria-live="polite">${at ? html`Updated <${Time} at=${at} />, every ${REFRESH_MS / 1000} s` : 'Loading…'}</p>
    </div>
    <${ErrorNote} error=${error} what="the destinations" />
    ${list && list.length === 0 && html`<div class="empty"><p>No destinations are configured for this key.</p>
      <p>Add entries to the destinations file (<code>config/destinations.json</code> by default; see the README) and restart batch-router,
      or ask for a key that may see your destinations.</p></div>`}
    ${list && list.length > 0 && html`
      <p class="totals">${STATES.map((s) => html`<span class=${`badge state-${s}`}>${s} ${n(totals[s])}</span> `)}</p>
      <div class="table-scroll" tabindex="0" role="region" aria-label="Destinations table">
      <table class="destinations">
        <thead><tr>
          <th scope="col">Destination</th><th scope="col">Config</th>
          ${STATES.map((s) => html`<th scope="col" class="num">${s}</th>`)}
          <th scope="col">Delivered per minute, last hour</th><th scope="col" class="num">Median upload</th>
          <th scope="col" class="num" title="uploads being sent / imports being polled">Uploads / imports</th>
          <th scope="col" class="num">Oldest waiting</th>
        </tr></thead>
        <tbody>${list.map((d) => html`<${DestinationRow} key=${d.id} d=${d} />`)}</tbody>
      </table></div>`}
  </main>`;
}
