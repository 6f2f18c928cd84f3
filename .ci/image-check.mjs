#!/usr/bin/env node
// The Docker image, checked without a Docker engine (issue 14 §2).
//
// 1. Reads the Dockerfile: the build stage's COPY and RUN steps, the runtime stage's ENV, COPY,
//    WORKDIR, VOLUME, USER and ENTRYPOINT/CMD. Nothing below names a file the image holds: the
//    Dockerfile is the one list, so the check and the image cannot drift apart.
// 2. Build stage: copies the named files from this checkout into an empty directory and runs the
//    stage's RUN lines there (npm ci, npm run build, npm prune --omit=dev) on Node 24.
// 3. Runtime stage: assembles a root directory holding exactly what the COPY lines copy.
// 4. Starts the ENTRYPOINT + CMD in it on Node 24 as an unprivileged user (`nobody`), with the
//    stage's ENV (its absolute paths mapped into the root) and an empty data volume directory;
//    waits for /readyz, fetches /openapi.json, delivers events through the API until the
//    submission is completed, then sends SIGTERM and expects exit code 0.
//
// `--self-test` builds once, then removes one copied path at a time from the assembled tree (a
// migration, a manager, the shipped destinations file, the dashboard) and expects each run to fail: a check that passes with a file missing would prove nothing. The OpenAPI document is built
// at run time from the route schemas in dist/, so /openapi.json is fetched rather than a file checked.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const selfTest = process.argv.includes('--self-test');
const keep = process.argv.includes('--keep');

/** Dockerfile instructions per stage, continuation lines joined, comments dropped. */
function parseDockerfile(text) {
  const stages = [];
  const logical = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const line of logical) {
    const [, op, rest] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    if (!op) continue;
    if (op.toUpperCase() === 'FROM') {
      stages.push({ name: /\bAS\s+(\S+)/i.exec(rest)?.[1] ?? String(stages.length), image: rest.split(/\s+/)[0], steps: [] });
    } else {
      stages.at(-1).steps.push({ op: op.toUpperCase(), args: rest });
    }
  }
  return stages;
}

/** `COPY [--from=x] a b dest` → { from, sources, dest }; the JSON array form too. */
function copyArgs(args) {
  const words = args.trim().startsWith('[') ? JSON.parse(args) : args.split(/\s+/);
  const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
  const paths = words.filter((w) => !w.startsWith('--'));
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1) };
}

/** `A=1 B=2` (ENV) → { A: '1', B: '2' }. Values here are never quoted with spaces. */
function envArgs(args) {
  return Object.fromEntries(args.split(/\s+/).map((pair) => pair.split(/=(.*)/s).slice(0, 2)));
}

const exec = (args) => (args.trim().startsWith('[') ? JSON.parse(args) : ['sh', '-c', args]);

function run(cmd, args, options) {
  execFileSync(cmd, args, { stdio: 'inherit', ...options });
}

/** Copies `sources` (relative to `fromDir`) to `dest` (relative to `workdir`) under `root`, as COPY does. */
function copyInto(root, workdir, fromDir, { sources, dest }) {
  const target = join(root, dest.startsWith('/') ? dest : join(workdir, dest));
  for (const source of sources) {
    const from = join(fromDir, source);
    if (!existsSync(from)) throw new Error(`COPY source ${source} does not exist in ${fromDir}`);
    // COPY of a directory copies its contents; of a file into a dir/ keeps the name.
    const to = statSync(from).isDirectory() || !dest.endsWith('/') && sources.length === 1 && dest !== '.' && dest !== './'
      ? target
      : join(target, source.split('/').at(-1));
    mkdirSync(dirname(to), { recursive: true });
    cpSync(from, to, { recursive: true });
  }
}

async function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
    server.on('error', fail);
  });
}

const cachedNode24 = execFileSync(join(repo, '.ci/fetch-node'), ['24'], { encoding: 'utf8' }).trim();
const stages = parseDockerfile(readFileSync(join(repo, 'Dockerfile'), 'utf8'));
const [build, runtime] = [stages.find((s) => s.name === 'build'), stages.at(-1)];
if (!build || !runtime || build === runtime) throw new Error('Dockerfile: expected a "build" stage and a runtime stage after it');

const work = mkdtempSync(join(tmpdir(), 'batch-router-image-'));
// The unprivileged user must reach the tree and the Node binary (the cache may sit under /root).
chmodSync(work, 0o755);
const buildRoot = join(work, 'build');
// The image has node in /usr/local/bin; here a copy beside the tree, where `nobody` can run it.
const node24 = join(work, 'node/bin');
mkdirSync(node24, { recursive: true });
cpSync(join(cachedNode24, 'node'), join(node24, 'node'));
const envPath = `${node24}:${process.env.PATH}`;

function buildStage() {
  let workdir = '/';
  for (const { op, args } of build.steps) {
    if (op === 'WORKDIR') workdir = args.trim();
    else if (op === 'COPY') copyInto(buildRoot, workdir, repo, copyArgs(args));
    else if (op === 'RUN') {
      const [cmd, ...rest] = exec(args);
      console.log(`[build] RUN ${args}`);
      run(cmd, rest, { cwd: join(buildRoot, workdir), env: { ...process.env, PATH: envPath } });
    } else if (op === 'ENV') Object.assign(process.env, envArgs(args));
  }
  return workdir;
}

/** Assembles the runtime stage under `root`; returns how to start it. */
function runtimeStage(root, buildStageRoot) {
  let workdir = '/';
  let appDir;
  const env = {};
  let entrypoint = [];
  let cmd = [];
  const volumes = [];
  for (const { op, args } of runtime.steps) {
    if (op === 'WORKDIR') workdir = args.trim();
    else if (op === 'ENV') Object.assign(env, envArgs(args));
    else if (op === 'COPY') {
      const copy = copyArgs(args);
      if (copy.from && copy.from !== build.name) throw new Error(`COPY --from=${copy.from}: only the build stage is known here`);
      copyInto(root, workdir, copy.from ? buildStageRoot : repo, copy);
      appDir ??= workdir;
    } else if (op === 'VOLUME') volumes.push(...(args.trim().startsWith('[') ? JSON.parse(args) : args.split(/\s+/)));
    else if (op === 'ENTRYPOINT') entrypoint = exec(args);
    else if (op === 'CMD') cmd = exec(args);
    // RUN (user creation) and USER are stood in for by `nobody`; EXPOSE and HEALTHCHECK need nothing.
  }
  for (const volume of volumes) mkdirSync(join(root, volume), { recursive: true });
  return { workdir, appDir, env, command: [...entrypoint, ...cmd], volumes };
}

/** Rewrites absolute image paths inside `value` to the assembled root. */
const inRoot = (root, value) => value.replace(/(^|[=:\s])\/(app|var|etc|opt|srv|home)\b/g, (_m, lead, top) => `${lead}${root}/${top}`);

async function startAndDeliver(root, plan) {
  const uid = 'nobody';
  for (const volume of plan.volumes) {
    rmSync(join(root, volume), { recursive: true, force: true });
    mkdirSync(join(root, volume), { recursive: true });
    chownSync(join(root, volume), Number(execFileSync('id', ['-u', uid], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', uid], { encoding: 'utf8' })));
  }
  const port = await freePort();
  const env = { PATH: envPath, HOME: join(root, plan.volumes[0] ?? '/tmp') };
  for (const [name, value] of Object.entries(plan.env)) env[name] = inRoot(root, value);
  env.PORT = String(port);
  const [program, ...args] = plan.command.map((part) => inRoot(root, part));
  const asUser = process.getuid() === 0 ? ['setpriv', '--reuid', uid, '--regid', 'nogroup', '--clear-groups', '--'] : [];
  if (asUser.length === 0) console.warn('[image] not root: running as the current user instead of an unprivileged one');
  const command = [...asUser, program === 'node' ? join(node24, 'node') : program, ...args];
  console.log(`[image] ${command.join(' ')} (cwd ${plan.workdir})`);
  const child = spawn(command[0], command.slice(1), { cwd: join(root, plan.workdir), env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => { output += chunk; });
  child.stderr.on('data', (chunk) => { output += chunk; });
  const exited = new Promise((ok) => child.on('exit', (code, signal) => ok({ code, signal })));
  const base = `http://127.0.0.1:${port}`;
  try {
    await until('the API answers /readyz with 200', 90_000, exited, async () => (await fetch(`${base}/readyz`)).status === 200);
    const openapi = await fetch(`${base}/openapi.json`);
    if (openapi.status !== 200 || !(await openapi.json()).openapi) throw new Error(`/openapi.json answered ${openapi.status}`);
    const submit = await fetch(`${base}/v1/destinations/demo-files/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ events: [{ id: 'image-1', type: 'check' }, { id: 'image-2', type: 'check' }] }),
    });
    if (submit.status !== 202 && submit.status !== 200) throw new Error(`submit answered ${submit.status}: ${await submit.text()}`);
    const { statusUrl } = await submit.json();
    let last;
    await until('the submission is completed', 60_000, exited, async () => {
      last = await (await fetch(`${base}${statusUrl}`)).json();
      if (['failed', 'partial', 'cancelled'].includes(last.state)) throw new Error(`submission ended ${last.state}: ${JSON.stringify(last.errors)}`);
      return last.state === 'completed';
    });
    console.log(`[image] delivered: ${JSON.stringify(last.counts)}`);
    // The dashboard and the API reference are static files the image must copy (COPY ui).
    for (const path of ['/ui/', '/docs']) {
      const page = await fetch(`${base}${path}`);
      if (page.status !== 200) throw new Error(`${path} answered ${page.status}`);
    }
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${error.message}\n--- daemon output ---\n${output.slice(-4000)}`);
  }
  child.kill('SIGTERM');
  const { code, signal } = await Promise.race([exited, new Promise((ok) => setTimeout(() => ok({ code: 'timeout' }), 60_000))]);
  if (code !== 0) {
    child.kill('SIGKILL');
    throw new Error(`after SIGTERM the daemon ended with ${signal ?? code}, expected exit code 0\n${output.slice(-4000)}`);
  }
  console.log('[image] SIGTERM: exit code 0');
  checkWritesUnderVolume(root, plan, command, env);
}

/**
 * Everything the unprivileged user writes lands in the volume: the demo destination's output, and
 * the keys file `keys create` writes (/app is root's and read-only to that user, as in the image).
 */
function checkWritesUnderVolume(root, plan, command, env) {
  const volume = join(root, plan.volumes[0]);
  const out = join(volume, 'out');
  if (!existsSync(out) || readdirSync(out).length === 0) throw new Error(`the demo destination wrote nothing under the volume (${out})`);
  // The daemon's own command line (same user, node and entrypoint) with `keys create` for CMD.
  const cli = command.slice(0, command.indexOf(inRoot(root, plan.command[1])) + 1);
  const keys = [...cli, 'keys', 'create', '--name', 'image-check', '--scopes', 'admin'];
  run(keys[0], keys.slice(1), { cwd: join(root, plan.workdir), env, stdio: ['ignore', 'ignore', 'inherit'] });
  if (!existsSync(join(volume, 'config/api-keys.json'))) throw new Error('keys create did not write config/api-keys.json under the volume');
  console.log('[image] writes (demo output, keys create) land under the volume');
}

async function until(what, ms, exited, probe) {
  const deadline = Date.now() + ms;
  let stopped;
  exited.then((how) => { stopped = how; });
  for (;;) {
    if (stopped) throw new Error(`the daemon exited (${stopped.signal ?? stopped.code}) before ${what}`);
    try {
      if (await probe()) return;
    } catch (error) {
      if (!(error instanceof TypeError)) throw error; // TypeError: connection refused while starting
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting until ${what}`);
    await new Promise((ok) => setTimeout(ok, 250));
  }
}

function assemble(name) {
  const root = join(work, name);
  mkdirSync(root, { recursive: true });
  // COPY --from names paths of the build stage's filesystem (/app/dist), so they resolve from its root.
  return { root, plan: runtimeStage(root, buildRoot) };
}

const started = Date.now();
buildStage();
try {
  if (!selfTest) {
    const { root, plan } = assemble('runtime');
    await startAndDeliver(root, plan);
    console.log(`image check passed in ${Math.round((Date.now() - started) / 1000)} s`);
  } else {
    // Each removal is a file the image needs; the check must notice every one.
    const removals = [
      (dir) => join(dir, 'dist/migrations', readdirSync(join(dir, 'dist/migrations')).find((f) => f.endsWith('.js'))),
      (dir) => join(dir, 'dist/managers/local-files'),
      // Not package.json: Node 24 detects ES module syntax by itself, so dist/ runs without it.
      (dir) => join(dir, 'config/destinations.json'),
      // The dashboard's static files: /ui/ must answer.
      (dir) => join(dir, 'ui'),
    ];
    for (const [index, pick] of removals.entries()) {
      const { root, plan } = assemble(`self-test-${index}`);
      const victim = pick(join(root, plan.appDir));
      if (!existsSync(victim)) throw new Error(`self-test: ${victim} is not in the assembled tree; update the self-test`);
      rmSync(victim, { recursive: true });
      try {
        await startAndDeliver(root, plan);
      } catch (error) {
        console.log(`[self-test] without ${victim.slice(root.length)}: failed as it must (${error.message.split('\n')[0]})`);
        continue;
      }
      throw new Error(`self-test: the check passed although ${victim.slice(root.length)} was removed`);
    }
    console.log(`image self-test passed in ${Math.round((Date.now() - started) / 1000)} s`);
  }
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
}
