#!/usr/bin/env node
// @ts-check
// `node scripts/setup.mjs demo|test [--dry-run]`: what `npm start` and `npm test` run first, so the
// two commands are all a new user types. It installs or checks, in this order: the Debian packages
// (the one list of them: .ci/run calls this script), node_modules (`npm ci` when missing or stale
// against package-lock.json), the test material (fixtures/fetch-material.sh), and the model weights.
// Plain Node without dependencies: it runs before node_modules exist. When everything is present it
// costs one file comparison and two stats (a stamp keyed on dpkg's status file replaces dpkg-query).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { modelSearchDirs } from '../models/search-dirs.mjs';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * @typedef {'demo' | 'test'} Mode
 * @typedef {{ any: string[], why: string }} Requirement  a Debian package; any one of `any` will do
 *   (the first is installed)
 */

/** @type {Requirement[]} What `npm start` needs: the demo clip is composited from opencv-doc's vtest.avi and darknet's dog.jpg. */
const DEMO_PACKAGES = [
  { any: ['ffmpeg'], why: 'ingest, the demo camera as live HLS, evidence clips' },
  { any: ['redis-server'], why: 'queues and stores (a local server unless REDIS_URL is set)' },
  { any: ['opencv-doc'], why: 'vtest.avi, the street behind the demo clip' },
  { any: ['darknet'], why: 'dog.jpg, the pickup parked in the demo clip' },
  { any: ['fontconfig'], why: 'font lookup for snapshot captions' },
  {
    any: ['fonts-droid-fallback', 'fonts-noto-cjk', 'fonts-wqy-zenhei', 'fonts-wqy-microhei'],
    why: 'a CJK font, so Chinese class names on snapshots are text, not boxes',
  },
];

/** @type {Requirement[]} What `npm test` adds (real servers and a real browser, no mocks). */
const TEST_PACKAGES = [
  { any: ['postgresql'], why: "the case store's PostgreSQL tests start their own server" },
  { any: ['python3-gi'], why: 'drives the GStreamer RTSP test server' },
  { any: ['gir1.2-gst-rtsp-server-1.0'], why: 'a real RTSP camera peer in tests' },
  { any: ['gstreamer1.0-plugins-base'], why: 'RTSP test server pipelines' },
  { any: ['gstreamer1.0-plugins-good'], why: 'RTSP test server pipelines' },
  { any: ['gstreamer1.0-plugins-bad'], why: 'RTSP test server pipelines (H.264 parsing)' },
  { any: ['chromium'], why: "the console's browser tests" },
];

/** Model weights each mode needs (the demo camera's config leaves analysis.model at its default). */
const DEMO_MODELS = ['yolox_nano'];

/**
 * The Debian packages a mode needs.
 * @param {Mode} mode
 * @param {NodeJS.ProcessEnv} env
 * @returns {Requirement[]}
 */
export function requirements(mode, env = process.env) {
  const demo = env.REDIS_URL ? DEMO_PACKAGES.filter((r) => !r.any.includes('redis-server')) : DEMO_PACKAGES;
  return mode === 'test' ? [...DEMO_PACKAGES, ...TEST_PACKAGES] : demo;
}

/**
 * Every package name a requirement list mentions (what dpkg-query is asked about).
 * @param {Requirement[]} reqs
 */
export function packageNames(reqs) {
  return [...new Set(reqs.flatMap((r) => r.any))];
}

/**
 * Installed package names from `dpkg-query -W -f='${Package}\t${Status}\n' names…` output. A package
 * that was removed but not purged reads "deinstall ok config-files": not installed.
 * @param {string} output
 * @returns {Set<string>}
 */
export function parseDpkgQuery(output) {
  const installed = new Set();
  for (const line of output.split('\n')) {
    const [name, status] = line.split('\t');
    if (name && status?.trim() === 'install ok installed') installed.add(name.replace(/:.*$/, ''));
  }
  return installed;
}

/**
 * What to install: for each requirement none of whose alternatives is installed, its first one.
 * @param {Requirement[]} reqs
 * @param {Set<string>} installed
 * @returns {{ name: string, why: string }[]}
 */
export function missingPackages(reqs, installed) {
  return reqs.filter((r) => !r.any.some((p) => installed.has(p))).map((r) => ({ name: /** @type {string} */ (r.any[0]), why: r.why }));
}

/**
 * Whether node_modules matches package-lock.json, judged from npm's own record of what it installed
 * (node_modules/.package-lock.json). Optional packages may be absent (other platforms' binaries);
 * the demo does not need dev packages (an `npm ci --omit=dev` tree serves it).
 * @param {string | null} lockText package-lock.json
 * @param {string | null} installedText node_modules/.package-lock.json (null: absent)
 * @param {{ nodeModulesExists: boolean, needDev: boolean }} opts
 * @returns {{ state: 'ok' | 'missing' | 'stale', reason: string }}
 */
export function nodeModulesState(lockText, installedText, opts) {
  if (!opts.nodeModulesExists) return { state: 'missing', reason: 'node_modules is missing' };
  if (lockText === null) return { state: 'stale', reason: 'package-lock.json is missing' };
  if (installedText === null) return { state: 'stale', reason: 'node_modules has no record of what npm installed (.package-lock.json)' };
  /** @type {{ packages?: Record<string, { version?: string, optional?: boolean, devOptional?: boolean, dev?: boolean }> }} */
  const lock = JSON.parse(lockText);
  /** @type {{ packages?: Record<string, { version?: string }> }} */
  const have = JSON.parse(installedText);
  const haveP = have.packages ?? {};
  const out = [];
  for (const [key, want] of Object.entries(lock.packages ?? {})) {
    if (!key.startsWith('node_modules/')) continue; // "" is the project itself
    const name = key.replace(/^.*node_modules\//, '');
    const got = haveP[key];
    if (!got) {
      if (want.optional || want.devOptional || (want.dev && !opts.needDev)) continue;
      out.push(`${name} is not installed`);
    } else if (got.version !== want.version) out.push(`${name} is ${got.version}, package-lock.json wants ${want.version}`);
    if (out.length >= 3) break;
  }
  return out.length ? { state: 'stale', reason: out.join('; ') } : { state: 'ok', reason: 'node_modules matches package-lock.json' };
}

/**
 * Model weights that resolve nowhere: the manifest's file in none of the search directories.
 * @param {{ name: string, file: string, url?: string | null }[]} manifests
 * @param {string[]} dirs
 * @param {(file: string) => boolean} exists
 */
export function missingModels(manifests, dirs, exists = existsSync) {
  return manifests.filter((m) => !dirs.some((d) => exists(path.join(d, m.file))));
}

/**
 * The message for weights that do not resolve: where it looked and the three ways to fix it.
 * @param {{ name: string, file: string, url?: string | null }[]} missing
 * @param {string[]} dirs
 */
export function modelMessage(missing, dirs) {
  const lines = [`model weights not found: ${missing.map((m) => m.file).join(', ')} (looked in ${dirs.join(', ')}).`];
  const fetchable = missing.filter((m) => m.url).map((m) => m.name);
  if (fetchable.length) lines.push(`  download the official weights (sha256-checked): npm run models:fetch -- ${fetchable.join(' ')}`);
  lines.push('  or set MODEL_DIR to a directory holding them, or put them in ../shared/models beside the checkout');
  return lines.join('\n');
}

/** @param {string[]} names */
export function aptInstallCommand(names) {
  return ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...names];
}

// ───────────────────────────────────────── effects ─────────────────────────────────────────

const say = (/** @type {string} */ line) => process.stderr.write(`setup: ${line}\n`);

class SetupError extends Error {}

/**
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ env?: NodeJS.ProcessEnv, quiet?: boolean }} [o]
 */
function run(cmd, args, o = {}) {
  const r = spawnSync(cmd, args, {
    cwd: REPO_ROOT,
    stdio: o.quiet ? ['ignore', 'ignore', 'pipe'] : 'inherit',
    env: o.env ?? process.env,
    encoding: 'utf8',
  });
  return { ok: r.status === 0, error: r.error, stderr: typeof r.stderr === 'string' ? r.stderr : '' };
}

/** @param {string} stampFile @param {string} key */
function stampFresh(stampFile, key) {
  try {
    return readFileSync(stampFile, 'utf8') === key;
  } catch {
    return false;
  }
}

/** @param {string} stampFile @param {string} key */
function writeStamp(stampFile, key) {
  mkdirSync(path.dirname(stampFile), { recursive: true });
  writeFileSync(stampFile, key);
}

/** @param {Mode} mode @param {boolean} dryRun */
function ensurePackages(mode, dryRun) {
  const reqs = requirements(mode);
  if (process.env.CITYWATCH_SETUP_SKIP_APT) return say('CITYWATCH_SETUP_SKIP_APT is set: not checking Debian packages');
  const names = packageNames(reqs);
  // dpkg rewrites its status file on every install and removal: unchanged since the last full
  // check with the same list means nothing to ask dpkg-query.
  const statusMtime = statSync('/var/lib/dpkg/status', { throwIfNoEntry: false })?.mtimeMs;
  if (statusMtime === undefined) {
    throw new SetupError(
      `this machine has no dpkg (not Debian/Ubuntu). Install the equivalents of: ${reqs.map((r) => r.any[0]).join(' ')} ` +
        '(the demo reads /usr/share/doc/opencv-doc/examples/data/vtest.avi and /usr/share/darknet/data/dog.jpg), then set CITYWATCH_SETUP_SKIP_APT=1',
    );
  }
  const stamp = path.join(REPO_ROOT, '.cache', 'setup', `apt-${mode}`);
  const key = `${statusMtime}:${createHash('sha256').update(JSON.stringify(reqs)).digest('hex').slice(0, 16)}`;
  // A dry run always asks dpkg: it is how to see what a machine lacks.
  if (!dryRun && stampFresh(stamp, key)) return;
  const q = spawnSync('dpkg-query', ['-W', '-f=${Package}\t${Status}\n', ...names], { encoding: 'utf8' });
  const missing = missingPackages(reqs, parseDpkgQuery(q.stdout ?? ''));
  if (!missing.length) {
    if (!dryRun) writeStamp(stamp, key);
    return;
  }
  for (const m of missing) say(`${dryRun ? 'would install' : 'installing'} ${m.name}: ${m.why}`);
  const pkgs = missing.map((m) => m.name);
  if (dryRun) return say(`would run: ${aptInstallCommand(pkgs).join(' ')}`);
  const asRoot = process.getuid?.() === 0;
  const sudo = !asRoot && run('sudo', ['-n', 'true'], { quiet: true }).ok;
  if (!asRoot && !sudo) {
    throw new SetupError(
      `missing Debian packages ${pkgs.join(' ')}; not root and sudo needs a password. Install them, then run this again:\n` +
        `  sudo apt-get update && sudo ${aptInstallCommand(pkgs)
          .filter((a) => a !== '-qq')
          .join(' ')}`,
    );
  }
  const pre = sudo ? ['sudo', '-n'] : [];
  const apt = (/** @type {string[]} */ args) => {
    const [cmd, ...rest] = [...pre, ...args];
    return run(/** @type {string} */ (cmd), rest, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  };
  // A fresh machine (or container) may have no package lists yet; otherwise try without the update.
  const hasLists = (() => {
    try {
      return readdirSync('/var/lib/apt/lists').some((f) => f.includes('_Packages'));
    } catch {
      return false;
    }
  })();
  if (!hasLists || !apt(aptInstallCommand(pkgs)).ok) {
    say('apt-get update');
    if (!apt(['apt-get', 'update', '-qq']).ok) throw new SetupError('apt-get update failed (see above)');
    if (!apt(aptInstallCommand(pkgs)).ok) throw new SetupError(`apt-get install ${pkgs.join(' ')} failed (see above)`);
  }
  const statusAfter = statSync('/var/lib/dpkg/status').mtimeMs;
  writeStamp(stamp, `${statusAfter}:${key.split(':')[1]}`);
}

/** @param {Mode} mode @param {boolean} dryRun */
function ensureNodeModules(mode, dryRun) {
  const read = (/** @type {string} */ f) => {
    try {
      return readFileSync(path.join(REPO_ROOT, f), 'utf8');
    } catch {
      return null;
    }
  };
  const nm = nodeModulesState(read('package-lock.json'), read('node_modules/.package-lock.json'), {
    nodeModulesExists: existsSync(path.join(REPO_ROOT, 'node_modules')),
    needDev: mode === 'test',
  });
  if (nm.state === 'ok') return;
  say(`${dryRun ? 'would run' : 'running'} npm ci: ${nm.reason}`);
  if (dryRun) return;
  // Under `npm start`/`npm test`, npm_execpath is the npm that runs us: use the same one.
  const npm = process.env.npm_execpath;
  const args = ['ci', '--no-audit', '--no-fund'];
  const r = npm && /\.[cm]?js$/.test(npm) ? run(process.execPath, [npm, ...args]) : run('npm', args);
  if (!r.ok) throw new SetupError('npm ci failed (see above)');
}

/** @param {boolean} dryRun */
function ensureMaterial(dryRun) {
  if (dryRun) return;
  // The script returns at once when the files are there; it downloads python3-skimage's .deb otherwise.
  if (!run('bash', [path.join(REPO_ROOT, 'fixtures', 'fetch-material.sh')]).ok)
    throw new SetupError('fixtures/fetch-material.sh failed (see above)');
}

/** @param {Mode} mode @param {boolean} dryRun */
function ensureModels(mode, dryRun) {
  const dir = path.join(REPO_ROOT, 'models');
  /** @type {{ name: string, file: string, url?: string | null }[]} */
  const all = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')));
  const wanted = mode === 'test' ? all : all.filter((m) => DEMO_MODELS.includes(m.name));
  const dirs = modelSearchDirs(process.env, REPO_ROOT);
  let missing = missingModels(wanted, dirs);
  if (!missing.length) return;
  // The demo's detector has an official URL: fetch it (sha256-checked) rather than stop a first run.
  const fetchable = mode === 'demo' ? missing.filter((m) => m.url) : [];
  if (fetchable.length) {
    say(
      `${dryRun ? 'would download' : 'downloading'} model weights ${fetchable.map((m) => m.name).join(' ')} (official URL, sha256-checked) into the model cache`,
    );
    if (!dryRun) run(process.execPath, [path.join(REPO_ROOT, 'bin', 'citywatch.mjs'), 'models', 'fetch', ...fetchable.map((m) => m.name)]);
    missing = dryRun ? missing.filter((m) => !m.url) : missingModels(wanted, dirs);
  }
  if (missing.length) throw new SetupError(modelMessage(missing, dirs));
}

/** @param {string[]} argv */
export function main(argv) {
  const mode = argv[0];
  const dryRun = argv.includes('--dry-run');
  if (mode !== 'demo' && mode !== 'test') {
    process.stderr.write('usage: node scripts/setup.mjs demo|test [--dry-run]\n');
    return 2;
  }
  try {
    ensurePackages(mode, dryRun);
    ensureNodeModules(mode, dryRun);
    if (mode === 'test') ensureMaterial(dryRun);
    ensureModels(mode, dryRun);
  } catch (err) {
    if (!(err instanceof SetupError)) throw err;
    process.stderr.write(`setup: ${err.message}\n`);
    return 1;
  }
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
