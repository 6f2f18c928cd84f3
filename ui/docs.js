// The API reference, rendered in the page from /openapi.json (the document fastify generates from
// the routes' own schemas), so it is always the running version's and needs no third-party viewer.
import { html, render } from './lib.js';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/** A schema as compact text: `$ref`s by name (linked to their section below), objects field by field. */
function describe(schema, depth = 0) {
  if (!schema || typeof schema !== 'object') return 'any';
  if (schema.$ref) return schema.$ref.split('/').pop();
  if (schema.anyOf || schema.oneOf) return (schema.anyOf ?? schema.oneOf).map((s) => describe(s, depth)).join(' | ');
  const type = Array.isArray(schema.type) ? schema.type.join(' | ') : schema.type;
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (type === 'array' || schema.items) return `array of ${describe(schema.items, depth)}`;
  if (schema.properties) {
    const pad = '  '.repeat(depth + 1);
    const required = new Set(schema.required ?? []);
    const lines = Object.entries(schema.properties).map(([name, s]) =>
      `${pad}${name}${required.has(name) ? '' : '?'}: ${describe(s, depth + 1)}${s.description ? `  — ${s.description}` : ''}`);
    return `{\n${lines.join('\n')}\n${'  '.repeat(depth)}}`;
  }
  return [type ?? 'any', schema.format && `(${schema.format})`].filter(Boolean).join(' ');
}

function Operation({ method, path, op }) {
  const body = op.requestBody?.content?.['application/json']?.schema;
  return html`<details class="op" id=${op.operationId ?? `${method}-${path}`}>
    <summary><span class=${`method ${method}`}>${method.toUpperCase()}</span><code>${path}</code><span>${op.summary ?? ''}</span></summary>
    <div>
      ${op.description && html`<p>${op.description}</p>`}
      ${op.security?.length === 0 ? html`<p class="muted">No API key needed.</p>` : ''}
      ${op.parameters?.length > 0 && html`<h4>Parameters</h4><table><thead><tr><th>Name</th><th>In</th><th>Type</th><th>Description</th></tr></thead><tbody>
        ${op.parameters.map((p) => html`<tr><td><code>${p.name}</code>${p.required ? ' (required)' : ''}</td><td>${p.in}</td><td><code>${describe(p.schema)}</code></td><td>${p.description ?? p.schema?.description ?? ''}</td></tr>`)}</tbody></table>`}
      ${body && html`<h4>Request body (application/json)</h4><pre class="schema">${describe(body)}</pre>`}
      <h4>Responses</h4>
      ${Object.entries(op.responses ?? {}).map(([code, r]) => {
        const content = r.content ? Object.entries(r.content)[0] : undefined;
        return html`<p><strong>${code}</strong> ${r.description ?? ''} ${content ? html`<span class="muted">${content[0]}</span>` : ''}</p>
          ${content?.[1]?.schema && html`<pre class="schema">${describe(content[1].schema)}</pre>`}`;
      })}
    </div>
  </details>`;
}

function Reference({ doc }) {
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const tag = op.tags?.[0] ?? 'other';
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push({ method, path, op });
    }
  }
  const schemas = Object.entries(doc.components?.schemas ?? {});
  return html`<div>
    <h1>${doc.info.title} <span class="muted">version ${doc.info.version}</span></h1>
    <p>${doc.info.description}</p>
    <p>Authentication: send an API key as <code>Authorization: Bearer &lt;key&gt;</code>, except where an operation says otherwise.
      The machine-readable document is <a href="/openapi.json">/openapi.json</a>.</p>
    <nav aria-label="Contents"><ul class="toc">${[...byTag.keys()].map((t) => html`<li><a href=${`#tag-${t}`}>${t}</a></li>`)}<li><a href="#schemas">Schemas</a></li></ul></nav>
    ${[...byTag].map(([tag, ops]) => html`<section><h2 id=${`tag-${tag}`}>${tag}</h2>${ops.map((o) => html`<${Operation} ...${o} />`)}</section>`)}
    <section><h2 id="schemas">Schemas</h2>${schemas.map(([name, s]) => html`<details class="op" id=${`schema-${name}`}><summary><code>${name}</code><span>${s.description ?? ''}</span></summary><div><pre class="schema">${describe(s)}</pre></div></details>`)}</section>
  </div>`;
}

const root = document.getElementById('docs');
fetch('/openapi.json')
  .then((res) => { if (!res.ok) throw new Error(`HTTP ${res.status}`); return res.json(); })
  .then((doc) => render(html`<${Reference} doc=${doc} />`, root))
  .catch((error) => render(html`<p class="error" role="alert">Could not load /openapi.json (${error.message}). Check that batch-router is running, then reload.</p>`, root));
