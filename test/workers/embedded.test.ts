// The embedded single-machine mode as a user runs it: a fresh data directory, no REDIS_URL, no S3.
// Within 2 minutes it must print a case whose clip is a playable video.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, SHARED, run } from '../support/media.js';
import { tempDir } from './helpers.js';

let cleanup: (() => Promise<void>) | null = null;
afterAll(async () => {
  await cleanup?.();
});

describe('embedded run', () => {
  it('shows a case with a playable clip within 2 minutes and shuts down cleanly', async () => {
    const t = await tempDir('embedded');
    cleanup = t.cleanup;
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: join(t.dir, 'data'), INFER_THREADS: '1', MODEL_DIR: process.env.MODEL_DIR ?? join(SHARED, 'models') };
    for (const k of ['REDIS_URL', 'S3_ENDPOINT', 'WEBHOOK_URL']) delete env[k];
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'workers', 'run.ts')], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no case within 120 s; output:\n${out}`)), 120_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^CASE .*clip (\/\S+\.mp4)$/m.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[0]);
        }
      });
      child.on('exit', (code) => reject(new Error(`embedded run exited ${code}:\n${out}`)));
    });
    console.log(`first case after ${Date.now() - started} ms: ${line}`);
    expect(line).toMatch(/机动车违停 Illegal parking/);
    const clip = /clip (\S+)$/.exec(line)![1]!;
    expect(existsSync(clip)).toBe(true);
    const probe = JSON.parse(await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_type,nb_read_frames', '-count_frames', '-of', 'json', clip])) as { format: { duration: string }; streams: { codec_type: string; nb_read_frames: string }[] };
    expect(Number(probe.format.duration)).toBeGreaterThan(5);
    expect(Number(probe.streams.find((s) => s.codec_type === 'video')!.nb_read_frames)).toBeGreaterThan(50);
    const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
  });
});
