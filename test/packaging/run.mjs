#!/usr/bin/env node
// Packaging test: proves nestjs-chabok works the way users install it.
//
//   npm run build && node test/packaging/run.mjs
//
// 1. `npm pack` of the repository into a temp dir (the caller built dist/ first).
// 2. The tarball: every "exports"/"main"/"types"/"typesVersions" target is in it, it ships
//    dist/, README.md and package.json and nothing of the repo's own (src/, test/, ...),
//    the CJS build is complete and marked {"type":"commonjs"}, the peer ranges cover the
//    Nest majors of the fixture apps, engines.node is satisfied by this node.
// 3. Each fixture app (test/packaging/nest10-cjs, nest11-cjs, nest12-esm) is copied to a
//    temp dir, installed from its lock file (`npm ci`), given the tarball
//    (`npm install --no-save`), typechecked, built, started against a local Chabok stand-in,
//    called over HTTP on 127.0.0.1, and the events that reach the stand-in are checked.
//
// Self-contained plain JS (it runs outside jest). Every wait is bounded. Prints one
// PASS/FAIL line per check group and per app; exits non-zero on any failure.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const ALL_APPS = ['nest10-cjs', 'nest11-cjs', 'nest12-esm'];
// `node test/packaging/run.mjs nest12-esm` checks the tarball and only the apps named.
const APPS = process.argv.length > 2 ? process.argv.slice(2) : ALL_APPS;
for (const app of APPS) {
  if (!ALL_APPS.includes(app)) {
    console.error(`unknown app ${app}; the apps are ${ALL_APPS.join(', ')}`);
    process.exit(2);
  }
}
const TOKEN = 'packaging-secret-token-5f1c9a';
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPM_FLAGS = ['--no-audit', '--no-fund', '--prefer-offline'];

const LIMITS = {
  whole: 6 * 60_000, // hard stop for the whole run
  pack: 60_000,
  npmCi: 150_000,
  npmInstall: 120_000,
  tsc: 90_000,
  node: 30_000,
  ready: 30_000,
  request: 10_000,
  events: 15_000,
  exit: 15_000,
};

const started = Date.now();
const children = new Set();
const failures = [];

const watchdog = setTimeout(() => {
  console.error(`FAIL packaging: the whole run took longer than ${LIMITS.whole / 1000} s; stopping`);
  for (const child of children) killTree(child, 'SIGKILL');
  process.exit(1);
}, LIMITS.whole);
watchdog.unref();

// ---------------------------------------------------------------------------------------
// small helpers

const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

class CheckError extends Error {}

function check(condition, message) {
  if (!condition) throw new CheckError(message);
}

function killTree(child, signal) {
  try {
    process.kill(-child.pid, signal); // the child leads its own process group (detached)
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/** Env for child npm/node processes: without the npm_* variables of an enclosing `npm run`. */
function childEnv(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key)) env[key] = value;
  }
  return { ...env, ...extra };
}

/** Runs a command to completion (bounded by timeoutMs); resolves { code, stdout, stderr }. */
function run(cmd, args, { cwd, timeoutMs, env = childEnv() }) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      killTree(child, 'SIGKILL');
      reject(
        new CheckError(
          `\`${cmd} ${args.join(' ')}\` did not finish within ${timeoutMs / 1000} s\n${tail(stdout + stderr)}`,
        ),
      );
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      children.delete(child);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolvePromise({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** Runs a command and fails the check when it exits non-zero. */
async function step(label, cmd, args, options) {
  const t = Date.now();
  const result = await run(cmd, args, options);
  check(
    result.code === 0,
    `${label}: \`${cmd} ${args.join(' ')}\` exited ${result.code}\n${tail(result.stdout + result.stderr)}`,
  );
  console.log(`  ok   ${label} (${seconds(t)})`);
  return result;
}

function tail(text, lines = 40) {
  const all = String(text).trimEnd().split('\n');
  return all
    .slice(-lines)
    .map((l) => `       | ${l}`)
    .join('\n');
}

function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

function listFiles(dir, base = dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listFiles(full, base));
    else out.push(relative(base, full).split(sep).join('/'));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// semver: the real package when the repo has it installed, else a tiny fallback

function loadSemver() {
  try {
    return createRequire(join(ROOT, 'package.json'))('semver');
  } catch {
    return undefined;
  }
}

const semver = loadSemver();

/** Tiny fallback: ranges made of `||`-joined `^x.y.z`, `~x.y.z`, `>=x.y.z`, `x.y.z`. */
const tinySemver = {
  parse(v) {
    const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(String(v).trim());
    return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
  },
  cmp(a, b) {
    for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
    return 0;
  },
  satisfiesOne(v, part) {
    const m = /^(\^|~|>=)?\s*v?(\d+\.\d+\.\d+)$/.exec(part.trim());
    if (!m) throw new CheckError(`cannot read the range part "${part}" without the semver package`);
    const min = this.parse(m[2]);
    if (this.cmp(v, min) < 0) return false;
    if (m[1] === '>=') return true;
    if (m[1] === '~') return v[0] === min[0] && v[1] === min[1];
    if (m[1] === '^') return min[0] !== 0 ? v[0] === min[0] : v[0] === 0 && v[1] === min[1];
    return this.cmp(v, min) === 0;
  },
  satisfies(version, range) {
    const v = this.parse(version);
    return !!v && range.split('||').some((part) => this.satisfiesOne(v, part));
  },
  /** Approximation of subset for caret/tilde ranges: the range's lowest version is covered. */
  subset(sub, dom) {
    return sub.split('||').every((part) => this.satisfies(part.trim().replace(/^[\^~]|^>=/, ''), dom));
  },
};

const satisfies = (version, range) =>
  semver ? semver.satisfies(version, range) : tinySemver.satisfies(version, range);
const subset = (sub, dom) => (semver ? semver.subset(sub, dom) : tinySemver.subset(sub, dom));

// ---------------------------------------------------------------------------------------
// the tarball

/** Every string target in an exports map, with the condition path that leads to it. */
function exportTargets(exportsField, trail = []) {
  if (typeof exportsField === 'string') return [{ trail: trail.join(' > '), target: exportsField }];
  if (exportsField === null || typeof exportsField !== 'object') return [];
  return Object.entries(exportsField).flatMap(([key, value]) => exportTargets(value, [...trail, key]));
}

const FORBIDDEN = [
  [/^src\//, 'src/'],
  [/^test\//, 'test/'],
  [/^bench\//, 'bench/'],
  [/^sample\//, 'sample/'],
  [/^stand-in\//, 'stand-in/'],
  [/^\.ci\//, '.ci/'],
  [/^node_modules\//, 'node_modules/'],
  [/(^|\/)tsconfig[^/]*\.json$/, 'tsconfig*.json'],
  [/\.tsbuildinfo$/, '*.tsbuildinfo'],
  [/\.tgz$/, '*.tgz'],
  [/(^|\/)\.env/, '.env*'],
  [/\.spec\.(js|d\.ts|js\.map)$/, 'compiled spec files'],
  [/(^|\/)jest\.config/, 'jest config'],
];

async function packAndCheck(tmp) {
  check(
    existsSync(join(ROOT, 'dist/index.js')) && existsSync(join(ROOT, 'dist/cjs/index.js')),
    'dist/ is not built: run `npm run build` first',
  );

  const packDir = join(tmp, 'pack');
  mkdirSync(packDir, { recursive: true });
  const t = Date.now();
  const packed = await step('npm pack', NPM, ['pack', '--json', '--pack-destination', packDir], {
    cwd: ROOT,
    timeoutMs: LIMITS.pack,
  });
  const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[')))[0];
  const tarball = join(packDir, info.filename);
  check(existsSync(tarball), `npm pack reported ${info.filename} but it is not in ${packDir}`);
  const files = new Set(info.files.map((f) => f.path.replace(/^\.\//, '')));
  console.log(
    `       ${info.filename}: ${files.size} files, ${(info.size / 1024).toFixed(1)} KiB packed (${seconds(t)})`,
  );

  // Read the package as a user receives it, from the tarball itself.
  const unpacked = join(tmp, 'unpacked');
  mkdirSync(unpacked, { recursive: true });
  await step('tarball unpacks', 'tar', ['-xzf', tarball, '-C', unpacked], { cwd: tmp, timeoutMs: LIMITS.pack });
  const pkgDir = join(unpacked, 'package');
  const inTar = new Set(listFiles(pkgDir));
  check(
    [...files].every((f) => inTar.has(f)) && inTar.size === files.size,
    `npm pack's file list and the tarball's content differ`,
  );
  const pkg = readJson(join(pkgDir, 'package.json'));

  const problems = [];

  // (1) every exports target (all conditions: import/require, types/default) is shipped.
  const targets = exportTargets(pkg.exports);
  if (targets.length === 0) problems.push('package.json has no "exports" targets');
  for (const { trail, target } of targets) {
    if (!target.startsWith('./')) problems.push(`exports ${trail}: "${target}" does not start with ./`);
    else if (target.includes('*'))
      problems.push(`exports ${trail}: "${target}" is a pattern; this test checks files only`);
    else if (!files.has(target.slice(2))) problems.push(`exports ${trail}: ${target} is not in the tarball`);
  }
  for (const subpath of ['.', './testing', './health']) {
    for (const condition of ['import', 'require']) {
      const entry = pkg.exports?.[subpath]?.[condition];
      if (!entry?.types || !entry?.default)
        problems.push(`exports["${subpath}"].${condition} lacks "types" or "default"`);
      else {
        const isCjs = entry.default.startsWith('./dist/cjs/');
        if (condition === 'require' && !isCjs)
          problems.push(`exports["${subpath}"].require points outside dist/cjs/: ${entry.default}`);
        if (condition === 'import' && isCjs)
          problems.push(`exports["${subpath}"].import points into dist/cjs/: ${entry.default}`);
        if (entry.types.replace(/\.d\.ts$/, '.js') !== entry.default) {
          problems.push(`exports["${subpath}"].${condition}: types ${entry.types} is not beside ${entry.default}`);
        }
      }
      // "types" must come first within a condition object, or TypeScript ignores it.
      if (entry && Object.keys(entry)[0] !== 'types')
        problems.push(`exports["${subpath}"].${condition}: "types" is not the first key`);
    }
  }

  // (2) main / types / module / typesVersions targets are shipped.
  for (const field of ['main', 'types', 'module']) {
    if (pkg[field] !== undefined && !files.has(pkg[field].replace(/^\.\//, '')))
      problems.push(`"${field}": ${pkg[field]} is not in the tarball`);
  }
  for (const [range, map] of Object.entries(pkg.typesVersions ?? {})) {
    for (const [key, list] of Object.entries(map)) {
      for (const target of list) {
        if (!files.has(target.replace(/^\.\//, '')))
          problems.push(`typesVersions["${range}"]["${key}"]: ${target} is not in the tarball`);
      }
    }
  }

  // (3) what ships: what users need, nothing of the repo's own.
  for (const needed of [
    'package.json',
    'README.md',
    'dist/index.js',
    'dist/index.d.ts',
    'dist/cjs/index.js',
    'dist/cjs/index.d.ts',
    'dist/cjs/package.json',
  ]) {
    if (!files.has(needed)) problems.push(`${needed} is not in the tarball`);
  }
  const shippedWrongly = new Map(); // what must not ship -> files that do
  for (const file of files) {
    const forbidden = FORBIDDEN.find(([pattern]) => pattern.test(file));
    const other =
      !file.startsWith('dist/') &&
      !['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', 'LICENSE.md'].includes(file);
    const reason = forbidden
      ? `${forbidden[1]} must not ship`
      : other
        ? 'only dist/, package.json, README.md, CHANGELOG.md and LICENSE ship'
        : undefined;
    if (reason) shippedWrongly.set(reason, [...(shippedWrongly.get(reason) ?? []), file]);
  }
  for (const [reason, list] of shippedWrongly) {
    problems.push(
      `${reason}, but ${list.length} file(s) do: ${list.slice(0, 5).join(', ')}${list.length > 5 ? ', ...' : ''}`,
    );
  }
  if (pkg.license && !files.has('LICENSE') && !files.has('LICENSE.md'))
    problems.push(`"license": "${pkg.license}" but no LICENSE file ships`);

  // (4) the CJS build: complete, and marked CommonJS inside a "type": "module" package.
  const cjsMarker = existsSync(join(pkgDir, 'dist/cjs/package.json'))
    ? readJson(join(pkgDir, 'dist/cjs/package.json'))
    : undefined;
  if (cjsMarker?.type !== 'commonjs')
    problems.push(`dist/cjs/package.json is ${JSON.stringify(cjsMarker)}, not {"type":"commonjs"}`);
  const esmJs = [...files].filter(
    (f) => f.startsWith('dist/') && !f.startsWith('dist/cjs/') && /\.(js|d\.ts)$/.test(f),
  );
  const cjsJs = new Set([...files].filter((f) => f.startsWith('dist/cjs/') && /\.(js|d\.ts)$/.test(f)));
  for (const f of esmJs)
    if (!cjsJs.has(f.replace(/^dist\//, 'dist/cjs/')))
      problems.push(`${f} has no CommonJS twin dist/cjs/${f.slice(5)}`);
  for (const f of cjsJs) if (!files.has(f.replace(/^dist\/cjs\//, 'dist/'))) problems.push(`${f} has no ESM twin`);
  for (const f of cjsJs) {
    if (!f.endsWith('.js')) continue;
    const text = readFileSync(join(pkgDir, f), 'utf8');
    if (/^\s*(import|export)\s[^(]/m.test(text)) problems.push(`${f} contains ESM syntax`);
  }
  for (const f of esmJs) {
    if (!f.endsWith('.js')) continue;
    const text = readFileSync(join(pkgDir, f), 'utf8');
    if (/\brequire\(|exports\.\w+\s*=|Object\.defineProperty\(exports/.test(text))
      problems.push(`${f} contains CommonJS syntax`);
  }

  // (5) source maps: every source they name is shipped or inlined (sourcesContent).
  const brokenMaps = [];
  for (const f of files) {
    if (!f.endsWith('.js.map')) continue;
    const map = readJson(join(pkgDir, f));
    map.sources.forEach((source, i) => {
      const shipped = join(dirname(f), map.sourceRoot ?? '', source)
        .split(sep)
        .join('/');
      if (typeof map.sourcesContent?.[i] !== 'string' && !files.has(shipped)) brokenMaps.push(`${f} -> ${shipped}`);
    });
  }
  if (brokenMaps.length > 0) {
    problems.push(
      `${brokenMaps.length} source map(s) name sources that are neither shipped nor inlined: ${brokenMaps.slice(0, 3).join(', ')}${brokenMaps.length > 3 ? ', ...' : ''}`,
    );
  }

  // (6) peers cover the fixture apps' Nest majors (and their other peers); engines.node.
  const peers = pkg.peerDependencies ?? {};
  for (const app of ALL_APPS) {
    const appPkg = readJson(join(HERE, app, 'package.json'));
    const deps = { ...appPkg.dependencies, ...appPkg.devDependencies };
    for (const name of ['@nestjs/common', '@nestjs/core', '@nestjs/axios']) {
      if (!deps[name]) problems.push(`${app} does not depend on ${name}`);
    }
    for (const [name, range] of Object.entries(deps)) {
      if (peers[name] && !subset(range, peers[name]))
        problems.push(`${app} uses ${name}@${range}, not covered by the peer range "${peers[name]}"`);
    }
  }
  if (!pkg.engines?.node) problems.push('package.json has no engines.node');
  else if (!satisfies(process.version, pkg.engines.node))
    problems.push(`engines.node "${pkg.engines.node}" is not satisfied by ${process.version}`);

  const summary =
    problems.length === 0 ? undefined : `the tarball has problems:\n${problems.map((p) => `       - ${p}`).join('\n')}`;
  if (summary) return { tarball, pkg, problems: summary };
  console.log(
    `  ok   tarball: ${targets.length} exports targets shipped, only dist/ + docs, CJS build complete, peers cover Nest ${ALL_APPS.map((a) => a.slice(4, 6)).join(' and ')}, node ${process.version} within "${pkg.engines.node}"${semver ? '' : ' (tiny semver fallback)'}`,
  );
  return { tarball, pkg, problems: undefined };
}

// ---------------------------------------------------------------------------------------
// a local Chabok stand-in: records POST /api/installations/* bodies

function startStandIn() {
  const requests = [];
  const waiters = new Set();
  const notify = () => {
    for (const w of waiters) if (w.check()) w.done();
  };
  const server = createServer((req, res) => {
    let raw = '';
    let size = 0;
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size <= 1024 * 1024) raw += chunk;
    });
    req.on('end', () => {
      let body;
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
      const path = (req.url ?? '').split('?')[0];
      const known = req.method === 'POST' && /^\/api\/installations\/(track|trackPurchase|trackRevenue)$/.test(path);
      const authorized = req.headers['x-access-token'] === TOKEN;
      const status = !known ? 404 : !authorized ? 401 : body === undefined ? 400 : 200;
      requests.push({ method: req.method, path, headers: req.headers, body, status });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status === 200 ? '{}' : JSON.stringify({ error: status }));
      notify();
    });
  });
  const events = () =>
    requests
      .filter((r) => r.status === 200)
      .flatMap((r) =>
        (Array.isArray(r.body) ? r.body : [r.body]).map((event) => ({ path: r.path, headers: r.headers, event })),
      );

  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolvePromise({
        baseUrl: `http://127.0.0.1:${port}/api`,
        requests,
        events,
        /** Resolves when `n` events were accepted; rejects after timeoutMs. */
        waitForEvents(n, timeoutMs) {
          return new Promise((done, fail) => {
            const waiter = {
              check: () => events().length >= n,
              done: () => {
                clearTimeout(waiter.timer);
                waiters.delete(waiter);
                done(events());
              },
            };
            waiter.timer = setTimeout(() => {
              waiters.delete(waiter);
              fail(
                new CheckError(
                  `the stand-in got ${events().length} of ${n} events within ${timeoutMs / 1000} s; requests: ${JSON.stringify(requests.map((r) => `${r.method} ${r.path} -> ${r.status}`))}`,
                ),
              );
            }, timeoutMs);
            waiters.add(waiter);
            if (waiter.check()) waiter.done();
          });
        },
        close() {
          return new Promise((done) => {
            server.closeAllConnections?.();
            server.close(() => done());
          });
        },
      });
    });
  });
}

// ---------------------------------------------------------------------------------------
// a fixture app

/** Starts the built app; resolves once it printed its READY line. */
function startApp(cwd, entry, env) {
  const child = spawn(process.execPath, ['--enable-source-maps', entry], {
    cwd,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const app = { child, output: '', exited: undefined };
  const exited = new Promise((done) => {
    child.on('exit', (code, signal) => {
      app.exited = { code, signal };
      children.delete(child);
      done(app.exited);
    });
  });
  app.waitForExit = (timeoutMs) =>
    Promise.race([exited, new Promise((done) => setTimeout(() => done(undefined), timeoutMs).unref())]);
  child.stdout.on('data', (d) => (app.output += d));
  child.stderr.on('data', (d) => (app.output += d));

  const ready = new Promise((done, fail) => {
    const timer = setTimeout(
      () => fail(new CheckError(`the app printed no READY line within ${LIMITS.ready / 1000} s\n${tail(app.output)}`)),
      LIMITS.ready,
    );
    const onData = () => {
      const m = /^READY port=(\d+) module=(\S+) testing=(\S+)/m.exec(app.output);
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        done({ port: Number(m[1]), module: m[2], testing: m[3] });
      }
    };
    child.stdout.on('data', onData);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      fail(new CheckError(`the app exited (code ${code}, signal ${signal}) before it was ready\n${tail(app.output)}`));
    });
  });
  return { app, ready };
}

async function post(port, path, headers, body) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(LIMITS.request),
  });
  return { status: res.status, body: await res.text() };
}

/** Where the installed package's subpaths resolve, for both conditions, from inside the app. */
async function resolvedPaths(cwd) {
  const script = `
    import { createRequire } from 'node:module';
    import { fileURLToPath } from 'node:url';
    const require = createRequire(process.cwd() + '/package.json');
    const out = {};
    for (const s of ['nestjs-chabok', 'nestjs-chabok/testing', 'nestjs-chabok/health', 'nestjs-chabok/package.json']) {
      out[s] = { import: fileURLToPath(import.meta.resolve(s)), require: require.resolve(s) };
    }
    console.log(JSON.stringify(out));`;
  const result = await run(process.execPath, ['--input-type=module', '-e', script], { cwd, timeoutMs: LIMITS.node });
  check(result.code === 0, `resolving nestjs-chabok's subpaths failed\n${tail(result.stdout + result.stderr)}`);
  return JSON.parse(result.stdout.trim().split('\n').pop());
}

async function checkApp(name, tmp, tarball, pkg) {
  const source = join(HERE, name);
  const appDir = join(tmp, 'apps', name);
  cpSync(source, appDir, {
    recursive: true,
    filter: (src) => !/(^|[\\/])(node_modules|dist)([\\/]|$)|\.tsbuildinfo$/.test(relative(source, src)),
  });
  // The apps differ in package.json and tsconfig, not in code: one main.ts serves all.
  cpSync(join(HERE, 'app-src'), join(appDir, 'src'), { recursive: true });
  const appPkg = readJson(join(appDir, 'package.json'));
  const esm = appPkg.type === 'module';
  check(existsSync(join(appDir, 'package-lock.json')), `${name} has no package-lock.json`);

  await step('npm ci', NPM, ['ci', ...NPM_FLAGS], { cwd: appDir, timeoutMs: LIMITS.npmCi });

  // Peers against what npm really installed in the app.
  const installed = {};
  for (const dep of Object.keys(appPkg.dependencies))
    installed[dep] = readJson(join(appDir, 'node_modules', dep, 'package.json')).version;
  for (const [dep, version] of Object.entries(installed)) {
    const range = pkg.peerDependencies?.[dep];
    check(
      !range || satisfies(version, range),
      `${dep}@${version} installed in ${name} is outside the peer range "${range}"`,
    );
  }
  console.log(
    `       installed: ${['@nestjs/core', '@nestjs/axios', 'class-validator', 'axios'].map((d) => `${d}@${installed[d]}`).join(', ')}`,
  );

  await step('npm install --no-save <tarball>', NPM, ['install', '--no-save', ...NPM_FLAGS, tarball], {
    cwd: appDir,
    timeoutMs: LIMITS.npmInstall,
  });
  const libDir = join(appDir, 'node_modules', 'nestjs-chabok');
  check(
    readJson(join(libDir, 'package.json')).version === pkg.version,
    `node_modules/nestjs-chabok is not the packed version ${pkg.version}`,
  );
  check(!existsSync(join(libDir, 'src')), 'the installed package has a src/ folder');

  // The exports map, as node resolves it from the app: import -> dist/, require -> dist/cjs/.
  const paths = await resolvedPaths(appDir);
  const expected = {
    'nestjs-chabok': ['dist/index.js', 'dist/cjs/index.js'],
    'nestjs-chabok/testing': ['dist/testing/index.js', 'dist/cjs/testing/index.js'],
    'nestjs-chabok/health': ['dist/health/index.js', 'dist/cjs/health/index.js'],
    'nestjs-chabok/package.json': ['package.json', 'package.json'],
  };
  for (const [specifier, [importPath, requirePath]] of Object.entries(expected)) {
    check(
      paths[specifier].import === join(libDir, importPath),
      `import '${specifier}' resolved to ${paths[specifier].import}, expected ${join(libDir, importPath)}`,
    );
    check(
      paths[specifier].require === join(libDir, requirePath),
      `require('${specifier}') resolved to ${paths[specifier].require}, expected ${join(libDir, requirePath)}`,
    );
  }
  console.log('  ok   node resolves ., ./testing, ./health: import -> dist/, require -> dist/cjs/');

  // Typecheck with every tsconfig the app has (tsconfig.json is the starter's).
  const tsconfigs = readdirSync(appDir)
    .filter((f) => /^tsconfig.*\.json$/.test(f))
    .sort();
  for (const tsconfig of tsconfigs) {
    const config = readJson(join(appDir, tsconfig)).compilerOptions ?? {};
    const mode = `module ${config.module ?? '(inherited)'}, moduleResolution ${config.moduleResolution ?? '(inherited)'}`;
    await step(`typecheck ${tsconfig} (${mode})`, 'npx', ['tsc', '--noEmit', '-p', tsconfig], {
      cwd: appDir,
      timeoutMs: LIMITS.tsc,
    });
  }
  // The starter skips lib checks, which would turn a broken .d.ts into silent `any`s: check
  // the shipped declarations themselves against this app's Nest once.
  await step(
    'typecheck tsconfig.json --skipLibCheck false (the shipped .d.ts against this Nest)',
    'npx',
    ['tsc', '--noEmit', '-p', 'tsconfig.json', '--skipLibCheck', 'false'],
    { cwd: appDir, timeoutMs: LIMITS.tsc },
  );
  await step('build (tsc -p .)', 'npx', ['tsc', '-p', '.'], { cwd: appDir, timeoutMs: LIMITS.tsc });
  const entry = appPkg.main;
  check(existsSync(join(appDir, entry)), `the build did not emit ${entry}`);
  const emitted = readFileSync(join(appDir, entry), 'utf8');
  if (esm)
    check(
      /from ['"]nestjs-chabok['"]/.test(emitted) && !/require\(/.test(emitted),
      `${entry} is not ESM importing 'nestjs-chabok'`,
    );
  else
    check(
      /require\(["']nestjs-chabok["']\)/.test(emitted) && /require\(["']nestjs-chabok\/testing["']\)/.test(emitted),
      `${entry} does not require('nestjs-chabok') and require('nestjs-chabok/testing')`,
    );

  // Run it against the stand-in.
  const standIn = await startStandIn();
  const { app, ready } = startApp(
    appDir,
    entry,
    childEnv({ CHABOK_BASE_URL: standIn.baseUrl, CHABOK_ACCESS_TOKEN: TOKEN, PORT: '0', NODE_ENV: 'production' }),
  );
  let failure;
  try {
    const { port, module, testing } = await ready;
    check(module === (esm ? 'esm' : 'commonjs'), `the app ran as ${module}, expected ${esm ? 'esm' : 'commonjs'}`);
    check(testing === 'describeRecorded', `nestjs-chabok/testing did not load at run time (testing=${testing})`);
    console.log(`  ok   app started on 127.0.0.1:${port} as ${module}`);

    const before = Date.now();
    const device = `device-${name}`;
    const user = `user-${name}`;
    const added = await post(port, '/cart/items', { 'x-chabok-installation-id': device }, { productId: 7 });
    check(
      added.status === 201 && JSON.parse(added.body).productId === 7,
      `POST /cart/items answered ${added.status} ${added.body}`,
    );
    const checkout = await post(port, '/cart/checkout', { 'x-user-id': user }, {});
    check(checkout.status === 201, `POST /cart/checkout answered ${checkout.status} ${checkout.body}`);

    const events = await standIn.waitForEvents(2, LIMITS.events);
    const after = Date.now();
    check(
      events.length === 2,
      `expected 2 events at the stand-in, got ${events.length}: ${JSON.stringify(events.map((e) => e.event))}`,
    );
    const byName = Object.fromEntries(events.map((e) => [e.event.eventName, e]));

    const decorated = byName.addToCart;
    check(decorated, `no addToCart event arrived: ${JSON.stringify(events.map((e) => e.event))}`);
    check(decorated.path === '/api/installations/track', `addToCart was posted to ${decorated.path}`);
    check(decorated.headers['x-access-token'] === TOKEN, 'addToCart did not carry the access token in X-Access-Token');
    check(
      /^application\/json/.test(decorated.headers['content-type'] ?? ''),
      `addToCart content-type was ${decorated.headers['content-type']}`,
    );
    checkEvent(
      'addToCart',
      decorated.event,
      { installationId: device, eventName: 'addToCart', eventData: { productId: 7 } },
      before,
      after,
    );

    const injected = byName.checkout;
    check(injected, `no checkout event arrived: ${JSON.stringify(events.map((e) => e.event))}`);
    check(injected.path === '/api/installations/track', `checkout was posted to ${injected.path}`);
    check(injected.headers['x-access-token'] === TOKEN, 'checkout did not carry the access token in X-Access-Token');
    checkEvent(
      'checkout',
      injected.event,
      { userId: user, eventName: 'checkout', eventData: { items: 1 } },
      before,
      after,
    );
    console.log('  ok   @TrackEvent() and EventTrackingService events reached the stand-in with the right fields');
  } catch (error) {
    failure = error;
  }
  // Stop the app (SIGTERM: Nest's shutdown hooks drain the queue) and the stand-in, always.
  const wasRunning = !app.exited;
  if (wasRunning) killTree(app.child, 'SIGTERM');
  const exit = await app.waitForExit(LIMITS.exit);
  if (!exit) killTree(app.child, 'SIGKILL');
  await standIn.close();
  if (failure) throw failure; // the first failure is the one worth reading
  check(wasRunning, `the app exited on its own before it was stopped\n${tail(app.output)}`);
  check(exit, `the app did not exit within ${LIMITS.exit / 1000} s of SIGTERM\n${tail(app.output)}`);
  check(
    exit.code === 0 || exit.signal === 'SIGTERM',
    `the app exited with code ${exit.code}, signal ${exit.signal} on SIGTERM\n${tail(app.output)}`,
  );
  check(!app.output.includes(TOKEN), 'the access token appears in the app output');
  console.log('  ok   app stopped on SIGTERM; the access token never appeared in its output');
}

function checkEvent(label, event, expected, before, after) {
  const keys = Object.keys(event).sort();
  const wanted = [...Object.keys(expected), 'eventTime'].sort();
  check(
    JSON.stringify(keys) === JSON.stringify(wanted),
    `${label}: fields ${keys.join(',')}, expected ${wanted.join(',')} (${JSON.stringify(event)})`,
  );
  for (const [key, value] of Object.entries(expected)) {
    check(
      JSON.stringify(event[key]) === JSON.stringify(value),
      `${label}.${key} is ${JSON.stringify(event[key])}, expected ${JSON.stringify(value)}`,
    );
  }
  check(
    Number.isInteger(event.eventTime) && event.eventTime >= before - 1000 && event.eventTime <= after + 1000,
    `${label}.eventTime ${event.eventTime} is not epoch ms between the request and its arrival`,
  );
}

// ---------------------------------------------------------------------------------------

async function main() {
  const tmp = mkdtempSync(join(tmpdir(), 'nestjs-chabok-packaging-'));
  console.log(`packaging test: node ${process.version}, work dir ${tmp}`);
  let packed;
  try {
    console.log('tarball');
    try {
      // The apps still install a tarball with problems: each gives its own verdict.
      packed = await packAndCheck(tmp);
      if (packed.problems) throw new CheckError(packed.problems);
      console.log(`PASS tarball (${seconds(started)})`);
    } catch (error) {
      failures.push('tarball');
      console.log(`  FAIL ${error instanceof CheckError ? error.message : error.stack}`);
      console.log('FAIL tarball');
    }
    for (const name of APPS) {
      const t = Date.now();
      console.log(`${name}`);
      if (!packed) {
        failures.push(name);
        console.log(`FAIL ${name}: no tarball to install`);
        continue;
      }
      try {
        await checkApp(name, tmp, packed.tarball, packed.pkg);
        console.log(`PASS ${name} (${seconds(t)})`);
      } catch (error) {
        failures.push(name);
        console.log(`  FAIL ${error instanceof CheckError ? error.message : error.stack}`);
        console.log(`FAIL ${name} (${seconds(t)})`);
      }
    }
  } finally {
    if (process.env.KEEP_PACKAGING_TMP) console.log(`kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }
  const total = 1 + APPS.length;
  console.log(`packaging took ${seconds(started)}${failures.length > 0 ? `; failed: ${failures.join(', ')}` : ''}`);
  console.log(`packaging: ${total - failures.length} passed, ${failures.length} failed`);
  process.exitCode = failures.length > 0 ? 1 : 0;
  clearTimeout(watchdog);
}

main().catch((error) => {
  console.error(`FAIL packaging: ${error.stack ?? error}`);
  for (const child of children) killTree(child, 'SIGKILL');
  process.exit(1);
});
