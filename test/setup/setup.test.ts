// The first-run setup's decisions (scripts/setup.mjs), as pure functions with exact expectations:
// which Debian packages are missing, whether node_modules is stale, which weights do not resolve.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  aptInstallCommand,
  missingModels,
  missingPackages,
  modelMessage,
  nodeModulesState,
  packageNames,
  parseDpkgQuery,
  requirements,
} from '../../scripts/setup.mjs';
import { REPO_ROOT } from '../../infra/settings.js';

// What `dpkg-query -W -f='${Package}\t${Status}\n' …` prints: unknown names go to stderr only; a removed
// but not purged package keeps a "deinstall" line; multi-arch names carry an architecture.
const DPKG = [
  'ffmpeg\tinstall ok installed',
  'redis-server\tinstall ok installed',
  'opencv-doc\tdeinstall ok config-files',
  'darknet\tinstall ok installed',
  'fontconfig:amd64\tinstall ok installed',
  'fonts-noto-cjk\tinstall ok installed',
  'fonts-droid-fallback\tunknown ok not-installed',
  '',
].join('\n');

describe('Debian packages', () => {
  it('reads installed packages from dpkg-query output, ignoring removed and unknown ones', () => {
    expect([...parseDpkgQuery(DPKG)].sort()).toEqual(['darknet', 'ffmpeg', 'fontconfig', 'fonts-noto-cjk', 'redis-server']);
  });

  it('reports what the demo lacks; any one CJK font satisfies the font requirement', () => {
    expect(missingPackages(requirements('demo', {}), parseDpkgQuery(DPKG)).map((m) => m.name)).toEqual(['opencv-doc']);
    const noFont = parseDpkgQuery(DPKG.replace('fonts-noto-cjk\tinstall ok installed', 'fonts-noto-cjk\tunknown ok not-installed'));
    expect(missingPackages(requirements('demo', {}), noFont).map((m) => m.name)).toEqual(['opencv-doc', 'fonts-droid-fallback']);
  });

  it('the tests need the demo packages plus servers and a browser; an external Redis drops redis-server from the demo only', () => {
    expect(missingPackages(requirements('test', {}), parseDpkgQuery(DPKG)).map((m) => m.name)).toEqual([
      'opencv-doc',
      'postgresql',
      'python3-gi',
      'gir1.2-gst-rtsp-server-1.0',
      'gstreamer1.0-plugins-base',
      'gstreamer1.0-plugins-good',
      'gstreamer1.0-plugins-bad',
      'chromium',
    ]);
    expect(missingPackages(requirements('demo', { REDIS_URL: 'redis://127.0.0.1:6390' }), new Set())).not.toContainEqual(
      expect.objectContaining({ name: 'redis-server' }),
    );
    expect(missingPackages(requirements('test', { REDIS_URL: 'redis://127.0.0.1:6390' }), new Set())).toContainEqual(
      expect.objectContaining({ name: 'redis-server' }),
    );
    expect(packageNames(requirements('demo', {}))).toEqual([
      'ffmpeg',
      'redis-server',
      'opencv-doc',
      'darknet',
      'fontconfig',
      'fonts-droid-fallback',
      'fonts-noto-cjk',
      'fonts-wqy-zenhei',
      'fonts-wqy-microhei',
    ]);
    expect(aptInstallCommand(['opencv-doc'])).toEqual(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'opencv-doc']);
  });
});

const lock = (pkgs: Record<string, object>) => JSON.stringify({ lockfileVersion: 3, packages: { '': { name: 'citywatch' }, ...pkgs } });

describe('node_modules', () => {
  const LOCK = lock({
    'node_modules/zod': { version: '4.6.7' },
    'node_modules/vitest': { version: '4.1.12', dev: true },
    'node_modules/@img/sharp-darwin-arm64': { version: '0.35.5', optional: true },
    'node_modules/minio/node_modules/xml2js': { version: '0.6.2' },
  });
  const opts = { nodeModulesExists: true, needDev: true };

  it("is ok when npm installed what the lock names (other platforms' optional binaries absent)", () => {
    const installed = lock({
      'node_modules/zod': { version: '4.6.7' },
      'node_modules/vitest': { version: '4.1.12' },
      'node_modules/minio/node_modules/xml2js': { version: '0.6.2' },
    });
    expect(nodeModulesState(LOCK, installed, opts)).toEqual({ state: 'ok', reason: 'node_modules matches package-lock.json' });
  });

  it('is stale when a locked package is absent or at another version, and missing without node_modules', () => {
    const old = lock({ 'node_modules/zod': { version: '4.5.0' }, 'node_modules/vitest': { version: '4.1.12' } });
    expect(nodeModulesState(LOCK, old, opts)).toEqual({
      state: 'stale',
      reason: 'zod is 4.5.0, package-lock.json wants 4.6.7; xml2js is not installed',
    });
    expect(nodeModulesState(LOCK, null, opts)).toEqual({
      state: 'stale',
      reason: 'node_modules has no record of what npm installed (.package-lock.json)',
    });
    expect(nodeModulesState(LOCK, null, { nodeModulesExists: false, needDev: true }).state).toBe('missing');
  });

  it('the demo does not need dev packages (an --omit=dev tree), the tests do', () => {
    const prod = lock({ 'node_modules/zod': { version: '4.6.7' }, 'node_modules/minio/node_modules/xml2js': { version: '0.6.2' } });
    expect(nodeModulesState(LOCK, prod, { nodeModulesExists: true, needDev: false }).state).toBe('ok');
    expect(nodeModulesState(LOCK, prod, opts)).toEqual({ state: 'stale', reason: 'vitest is not installed' });
  });

  it("this checkout's node_modules matches its lock", () => {
    const read = (f: string) => readFileSync(path.join(REPO_ROOT, f), 'utf8');
    expect(nodeModulesState(read('package-lock.json'), read('node_modules/.package-lock.json'), opts).state).toBe('ok');
  });
});

describe('model weights', () => {
  const manifests = [
    { name: 'yolox_nano', file: 'yolox_nano.onnx', url: 'https://example.invalid/yolox_nano.onnx' },
    { name: 'picodet_s_416_coco', file: 'picodet_s_416_coco.onnx', url: null },
  ];

  it('names the weights that resolve in no search directory, and the three fixes', () => {
    const present = new Set(['/models/picodet_s_416_coco.onnx']);
    const missing = missingModels(manifests, ['/cache', '/models'], (f) => present.has(f));
    expect(missing.map((m) => m.name)).toEqual(['yolox_nano']);
    expect(modelMessage(manifests, ['/cache', '/models'])).toBe(
      [
        'model weights not found: yolox_nano.onnx, picodet_s_416_coco.onnx (looked in /cache, /models).',
        '  download the official weights (sha256-checked): npm run models:fetch -- yolox_nano',
        '  or set MODEL_DIR to a directory holding them, or put them in ../shared/models beside the checkout',
      ].join('\n'),
    );
  });
});

describe('the script on this machine (dry run)', () => {
  it('asks dpkg-query and names each missing package with why and the exact apt-get command', async () => {
    const { execFile } = await import('node:child_process');
    const { mkdtemp, rm, writeFile, chmod } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    // A dpkg-query on PATH that answers for a machine lacking opencv-doc and any CJK font.
    const bin = await mkdtemp(path.join(tmpdir(), 'citywatch-setup-'));
    try {
      const answer = ['ffmpeg', 'redis-server', 'darknet', 'fontconfig'].map((p) => `${p}\\tinstall ok installed`).join('\\n');
      await writeFile(path.join(bin, 'dpkg-query'), `#!/bin/sh\nprintf '${answer}\\n'\n`);
      await chmod(path.join(bin, 'dpkg-query'), 0o755);
      const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, REDIS_URL: '' };
      const { stderr } = await new Promise<{ stderr: string }>((resolve, reject) =>
        execFile(process.execPath, [path.join(REPO_ROOT, 'scripts', 'setup.mjs'), 'demo', '--dry-run'], { env }, (err, _out, stderr) =>
          err ? reject(err) : resolve({ stderr }),
        ),
      );
      expect(stderr.split('\n').filter((l) => /install/.test(l))).toEqual([
        'setup: would install opencv-doc: vtest.avi, the street behind the demo clip',
        'setup: would install fonts-droid-fallback: a CJK font, so Chinese class names on snapshots are text, not boxes',
        'setup: would run: apt-get install -y -qq --no-install-recommends opencv-doc fonts-droid-fallback',
      ]);
    } finally {
      await rm(bin, { recursive: true, force: true });
    }
  });
});
