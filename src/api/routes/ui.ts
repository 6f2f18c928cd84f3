/**
 * The dashboard (`/ui/`) and the API reference (`/docs`): static files from the `ui/` directory of
 * the package and the two front-end libraries (Preact and htm) from node_modules, so the page works
 * with no internet and no build step. These files carry no data and no secret, so they are public;
 * every number on the page comes from the `/v1` API, called with the key the user typed in.
 *
 * The Content-Security-Policy allows scripts, styles and connections to this origin only: no inline
 * script (so nothing injected into a job's reason can run) and no third-party host.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml',
};

/** `ui/` beside `src/` in a checkout, or two levels further up from `dist/src/api/routes` in a build. */
export function uiDirectory(): string {
  const candidates = ['../../../ui', '../../../../ui'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  const found = candidates.find((dir) => existsSync(join(dir, 'index.html')));
  if (!found) throw new Error(`the dashboard's files are missing: looked for ui/index.html in ${candidates.join(' and ')}`);
  return found;
}

/**
 * Preact's hooks import the bare specifier "preact", which a browser cannot resolve without an
 * import map (an inline script the CSP would have to allow); pointing it at the sibling file is simpler.
 */
function vendorFiles(): Map<string, string> {
  const require = createRequire(import.meta.url);
  const read = (specifier: string) => readFileSync(require.resolve(specifier), 'utf8');
  return new Map([
    ['preact.mjs', read('preact')],
    ['hooks.mjs', read('preact/hooks').replace(/from\s*"preact"/g, 'from"./preact.mjs"')],
    // htm's CommonJS build is what require() resolves; its ES module sits beside it.
    ['htm.mjs', readFileSync(join(dirname(require.resolve('htm')), 'htm.mjs'), 'utf8')],
  ]);
}

function serve(reply: FastifyReply, name: string, body: string | Buffer): FastifyReply {
  return reply
    .header('content-type', TYPES[extname(name)] ?? 'application/octet-stream')
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    // Small files that change with each release; revalidating keeps an upgrade visible at once.
    .header('cache-control', 'no-cache')
    .send(body);
}

export function registerUiRoutes(app: FastifyInstance): void {
  const dir = uiDirectory();
  // Read once at start: the set of servable names is fixed, so no request can walk the file system.
  const files = new Map(readdirSync(dir).filter((name) => TYPES[extname(name)]).map((name) => [name, readFileSync(join(dir, name))]));
  const vendor = vendorFiles();
  const hidden = { config: { scope: 'public' as const }, schema: { hide: true } };

  app.get('/', hidden, async (_request, reply) => reply.redirect('/ui/'));
  app.get('/ui', hidden, async (_request, reply) => reply.redirect('/ui/'));
  app.get('/ui/', hidden, async (_request, reply) => serve(reply, 'index.html', files.get('index.html')!));
  app.get('/docs', hidden, async (_request, reply) => serve(reply, 'docs.html', files.get('docs.html')!));
  app.get<{ Params: { name: string } }>('/ui/:name', hidden, async (request, reply) => {
    const body = files.get(request.params.name);
    if (!body) return reply.code(404).type('text/plain').send('no such dashboard file');
    return serve(reply, request.params.name, body);
  });
  app.get<{ Params: { name: string } }>('/ui/vendor/:name', hidden, async (request, reply) => {
    const body = vendor.get(request.params.name);
    if (!body) return reply.code(404).type('text/plain').send('no such library file');
    return serve(reply, request.params.name, body);
  });
}
