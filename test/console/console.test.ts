// The operator console in a real browser (Debian's chromium via playwright-core) against the real
// API, a real worker and a real camera stream (the demo fixture replayed as live HLS). One stack for
// the file; the scenarios run in order, as an operator would: sign in, draw a zone and see the
// worker use it, open the case the camera produced and play its clip, reject it and see the counts
// move, try a threshold before saving, redeliver a dead webhook delivery, replay a clip against
// ground truth, add and edit a camera through the form, and check that a platform key cannot edit.
// Screenshots of every page go to .cache/screenshots/<page>.png.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CAMERA_ID } from '../../demo/demo-camera.js';
import { readRingIndex, ringDirOf } from '../../pipeline/source/recorder.js';
import { dogClip } from '../support/media.js';
import { waitFor } from '../support/wait.js';
import { shot, signedIn, startConsoleStack, type ConsoleStack } from './stack.js';

let stack: ConsoleStack;
let op: Page;

beforeAll(async () => {
  stack = await startConsoleStack();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

async function apiGet<T>(path: string, key = stack.keys.operator): Promise<T> {
  const res = await fetch(`${stack.base}${path}`, { headers: { Authorization: `Bearer ${key}` } });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Clicks the frame SVG at normalised coordinates. */
async function clickFrame(page: Page, x: number, y: number): Promise<void> {
  const box = await page.locator('svg.frame').boundingBox();
  if (!box) throw new Error('no frame on the page');
  await page.mouse.click(box.x + x * box.width, box.y + y * box.height);
}

describe('operator console', () => {
  it('serves the shell at / and client routes, never for API paths', async () => {
    const index = await fetch(`${stack.base}/cases/case_0123`, { headers: { Accept: 'text/html' } });
    expect(index.status).toBe(200);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const html = await index.text();
    expect(html).toContain('<div id="app">');
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const js = await fetch(`${stack.base}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toContain('immutable');
    // An unknown API path stays a JSON 404 even for a browser.
    const api404 = await fetch(`${stack.base}/v1/nothing-here`, { headers: { Accept: 'text/html' } });
    expect(api404.status).toBe(404);
    expect(api404.headers.get('content-type')).toContain('application/json');
    // A client asking for JSON gets the API's answer, not the shell.
    const json = await fetch(`${stack.base}/cameras`, { headers: { Accept: 'application/json' } });
    expect(json.status).toBe(404);
  });

  it('signs in with a key and lists the demo camera with its live state and thumbnail', async () => {
    const ctx = await stack.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: 'en-GB' });
    const page = await ctx.newPage();
    await page.goto(`${stack.base}/`);
    await page.fill('input[name=apiKey]', 'cwk_not-a-real-key-at-all-0000000000');
    await page.click('button[type=submit]');
    await page.locator('.signin .error').waitFor();
    await shot(page, 'signin');
    await ctx.close();

    op = await signedIn(stack, stack.keys.operator);
    const row = op.locator(`tr[data-camera="${DEMO_CAMERA_ID}"]`);
    await row.waitFor();
    await row.locator('.state-online').waitFor({ timeout: 60_000 });
    await row.locator('img.thumb').waitFor({ timeout: 30_000 });
    expect(await row.locator('td.open-cases').textContent()).toMatch(/\d/);
    await shot(op, 'cameras');
  }, 90_000);

  it('draws a zone on the live frame; the worker analyses the next frames with it', async () => {
    await op.goto(`${stack.base}/cameras/${DEMO_CAMERA_ID}/zones`);
    await op.locator('svg.frame image').waitFor({ timeout: 30_000 });
    const before = (await apiGet<{ version: number }>(`/v1/cameras/${DEMO_CAMERA_ID}`)).version;

    // A zone with two points is refused by the API, and the message is shown at the polygon.
    await op.click('text=New zone');
    await clickFrame(op, 0.1, 0.1);
    await clickFrame(op, 0.3, 0.1);
    await op.click('.actions button.primary');
    await op.locator('.field-error[data-field="zones.1.polygon"]').waitFor();

    // Third and fourth vertices make it valid; drag one, delete a stray one, name and save.
    await clickFrame(op, 0.3, 0.3);
    await clickFrame(op, 0.2, 0.35);
    await clickFrame(op, 0.1, 0.3);
    expect(await op.locator('circle.vertex[data-vzone="1"]').count()).toBe(5);
    await op.locator('circle.vertex[data-vzone="1"][data-vertex="4"]').click({ button: 'right' });
    expect(await op.locator('circle.vertex[data-vzone="1"]').count()).toBe(4);
    const v = op.locator('circle.vertex[data-vzone="1"][data-vertex="3"]');
    const vb = (await v.boundingBox())!;
    const frame = (await op.locator('svg.frame').boundingBox())!;
    await op.mouse.move(vb.x + vb.width / 2, vb.y + vb.height / 2);
    await op.mouse.down();
    await op.mouse.move(frame.x + 0.12 * frame.width, frame.y + 0.36 * frame.height, { steps: 5 });
    await op.mouse.up();
    await op.fill('input[name=zoneId]', 'ui_drawn');
    await op.fill('input[name=zoneName]', 'drawn in the console');
    await op.selectOption('select[name=zoneType]', 'no_vending');
    await op.click('.actions button.primary');
    await op.locator('p.ok').waitFor();
    const saved = await apiGet<{ version: number; zones: { id: string; polygon: [number, number][] }[] }>(
      `/v1/cameras/${DEMO_CAMERA_ID}/zones`,
    );
    expect(saved.version).toBeGreaterThan(before);
    const drawn = saved.zones.find((z) => z.id === 'ui_drawn')!;
    expect(drawn.polygon).toHaveLength(4);
    expect(drawn.polygon[3]![0]).toBeCloseTo(0.12, 1);
    expect(drawn.polygon[3]![1]).toBeCloseTo(0.36, 1);
    await shot(op, 'zones');

    // The worker's live record (what the camera view draws) now carries the new config version and zone.
    await op.goto(`${stack.base}/cameras/${DEMO_CAMERA_ID}`);
    await op.locator(`.live-meta[data-config-version="${saved.version}"]`).waitFor({ timeout: 30_000 });
    await op.locator('g.zone[data-zone="ui_drawn"]').waitFor();
    const live = await apiGet<{ configVersion: number; zones: { id: string }[] }>(`/v1/cameras/${DEMO_CAMERA_ID}/live`);
    expect(live.configVersion).toBeGreaterThanOrEqual(saved.version);
    expect(live.zones.map((z) => z.id)).toContain('ui_drawn');
    // The parked car (24 s of every 40 s of the demo loop) is listed as a subject of the kerb zone, with its status.
    await op.locator('li.subject[data-zone="curb_lane"]').first().waitFor({ timeout: 45_000 });
    await shot(op, 'camera');
  }, 180_000);

  it('refuses a stale save with a version conflict and never overwrites', async () => {
    await op.goto(`${stack.base}/cameras/${DEMO_CAMERA_ID}/zones`);
    await op.locator('svg.frame').waitFor();
    await op.locator('li[data-zone="ui_drawn"] button').click();
    // Someone else changes the camera meanwhile.
    const cur = await apiGet<{ version: number; zones: unknown[] }>(`/v1/cameras/${DEMO_CAMERA_ID}/zones`);
    const other = await fetch(`${stack.base}/v1/cameras/${DEMO_CAMERA_ID}/zones`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${stack.keys.admin}`, 'Content-Type': 'application/json', 'If-Match': `"${cur.version}"` },
      body: JSON.stringify({
        zones: (cur.zones as { id: string }[]).map((z) => (z.id === 'ui_drawn' ? { ...z, name: 'renamed by admin' } : z)),
      }),
    });
    expect(other.status).toBe(200);
    await op.fill('input[name=zoneName]', 'my stale edit');
    await op.click('.actions button.primary');
    await op.locator('.conflict').waitFor();
    const after = await apiGet<{ zones: { id: string; name?: string }[] }>(`/v1/cameras/${DEMO_CAMERA_ID}/zones`);
    expect(after.zones.find((z) => z.id === 'ui_drawn')!.name).toBe('renamed by admin');
    await op.click('.conflict button');
    await waitFor(
      async () =>
        (await op.inputValue('input[name=zoneName]').catch(() => '')) === 'renamed by admin' ||
        (await op.locator('li[data-zone="ui_drawn"]').count()) > 0,
      { timeoutMs: 10_000 },
    );
  }, 60_000);

  it('tries a threshold change on recent footage and shows different events before saving', async () => {
    await op.goto(`${stack.base}/cameras/${DEMO_CAMERA_ID}/classes`);
    const cls = op.locator('tr.class-row[data-class="illegal_parking"]');
    await cls.locator('button.link').click();
    // A dwell longer than the demo car ever stays: the edited run must lose the saved run's cases.
    await op.fill('input[name="illegal_parking.minDwellSec"]', '600');
    await shot(op, 'classes');
    // The ring must hold the whole minute the try replays (the worker's recorder starts with the
    // stack; a younger ring replays a few seconds and the saved config finds no parked car in them).
    const ringDir = ringDirOf(stack.dataDir, DEMO_CAMERA_ID);
    await waitFor(async () => ((await readRingIndex(ringDir))[0]?.startWall ?? Infinity) <= Date.now() - 62_000, {
      timeoutMs: 150_000,
      intervalMs: 1000,
      what: 'a minute of footage in the demo camera ring',
    });
    await op.click('.class-detail button:has-text("Try before save")');
    await op.fill('input[name=minutes]', '1');
    await op.click('.try-panel button.primary');
    // Two replays of the last minute of the camera's ring (the demo car parks 24 s of every 40 s).
    await op.locator('.try-panel[data-done="yes"], .try-panel .error').first().waitFor({ timeout: 150_000 });
    await shot(op, 'try');
    expect(await op.locator('.try-panel .error').count()).toBe(0);
    const saved = Number(await op.locator('[data-testid=try-saved]').getAttribute('data-cases'));
    const edited = Number(await op.locator('[data-testid=try-edited]').getAttribute('data-cases'));
    expect(saved).toBeGreaterThan(0);
    expect(edited).toBe(0);
    // Nothing was saved by trying.
    const cfg = await apiGet<{ overrides: Record<string, { minDwellSec?: number }> }>(`/v1/cameras/${DEMO_CAMERA_ID}/classes`);
    expect(cfg.overrides.illegal_parking?.minDwellSec).not.toBe(600);
  }, 360_000);

  it('shows the camera’s case with a playable clip and its reason; rejecting it moves the counts', async () => {
    const first = await waitFor(
      async () => {
        const page = await apiGet<{ items: { id: string; evidenceStatus: string }[] }>(`/v1/cases?cameraId=${DEMO_CAMERA_ID}`);
        return page.items.find((c) => c.evidenceStatus === 'ready');
      },
      { timeoutMs: 90_000, intervalMs: 1000, what: 'a demo-camera case with its evidence' },
    );
    await op.goto(`${stack.base}/cases?cameraId=${DEMO_CAMERA_ID}`);
    await op.locator(`tr[data-case="${first.id}"] a`).click();
    await op.locator(`.case-detail[data-case="${first.id}"]`).waitFor();
    // Functions, not strings: the console's CSP (script-src 'self') forbids string evaluation.
    const video = op.locator('video.clip');
    const media = await waitFor(
      async () => {
        const m = await video.evaluate((el) => {
          const v = el as unknown as { readyState: number; duration: number };
          return { readyState: v.readyState, duration: v.duration };
        });
        return m.readyState >= 2 && m.duration > 0 ? m : null;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the clip to be playable (readyState >= 2)' },
    );
    expect(media.duration).toBeGreaterThan(1);
    expect(await op.locator('.reason-text').textContent()).toMatch(/stayed [\d.]+ s in zone/);
    await shot(op, 'cases');

    const row = op.locator(`.rejections tr[data-row^="${DEMO_CAMERA_ID}/illegal_parking/"]`);
    await row.first().waitFor();
    const rejectedBefore = Number(await row.first().getAttribute('data-rejected'));
    await op.click('button[data-action="rejected"]');
    // The reason is required: the confirm button stays disabled without one.
    expect(await op.locator('.reject-form button[type=submit]').isDisabled()).toBe(true);
    await op.fill('input[name=rejectReason]', 'delivery van loading, allowed here');
    await op.check('input[name=suppress]');
    await op.click('.reject-form button[type=submit]');
    await op.locator(`.case-detail[data-state="rejected"]`).waitFor();
    await op.locator('.case-detail .suppressed').waitFor();
    const cfg = await apiGet<{ config: { suppressions?: { classId: string; createdFrom?: string }[] } }>(`/v1/cameras/${DEMO_CAMERA_ID}`);
    expect(cfg.config.suppressions?.some((x) => x.classId === 'illegal_parking' && x.createdFrom === first.id)).toBe(true);
    await waitFor(async () => Number(await row.first().getAttribute('data-rejected')) === rejectedBefore + 1, {
      timeoutMs: 10_000,
      what: 'the rejection count to move',
    });
    expect(await row.first().textContent()).toContain('delivery van loading');
    await shot(op, 'cases-rejected');
  }, 150_000);

  it('renders the statistics pages with real cases', async () => {
    await op.goto(`${stack.base}/stats`);
    await op.locator('[data-testid=heatmap] svg').waitFor({ timeout: 20_000 });
    // Week over week draws bars even with one class/zone row and no previous week.
    const trend = await apiGet<{ rows: { thisWeek: number }[] }>('/v1/stats/trend');
    expect(trend.rows.length).toBeGreaterThan(0);
    // (this week's bars are drawn in the chart's second colour, #2563eb)
    await op.locator('[data-testid=trend] svg path[fill="#2563eb"]').first().waitFor({ state: 'attached', timeout: 20_000 });
    expect(await op.locator('[data-testid=trend] svg path[fill="#2563eb"]').count()).toBeGreaterThanOrEqual(trend.rows.length);
    await shot(op, 'stats');
  }, 60_000);

  it('lists dead webhook deliveries and redelivers one from the page once the platform answers', async () => {
    // The stack's webhook receiver answers 500 and the worker gives up after two attempts.
    await op.goto(`${stack.base}/deliveries`);
    const rows = op.locator('tr[data-key]');
    await rows.first().waitFor({ timeout: 30_000 });
    const key = (await rows.first().getAttribute('data-key'))!;
    expect(await rows.first().locator('.last-status').textContent()).toContain('500');
    await shot(op, 'deliveries');
    stack.webhook.status = 200;
    await op.click(`tr[data-key="${key}"] button`);
    // The page follows the event until the platform took it; the receiver got the same key and answered 200.
    await op.locator(`p.ok[data-key="${key}"][data-status="delivered"]`).waitFor({ timeout: 20_000 });
    expect(stack.webhook.received.some((r) => r.key === key && r.status === 200)).toBe(true);
    await op.locator(`tr[data-key="${key}"]`).waitFor({ state: 'detached', timeout: 20_000 });
    await shot(op, 'deliveries-redelivered');
  }, 60_000);

  it('replays an uploaded clip against ground truth and shows precision/recall and a timeline', async () => {
    // darknet's dog.jpg (a real street photo with a parked car) held as a 20 s clip, a no-parking
    // zone over the whole frame and a 3 s dwell: the car confirms within the clip (as test/api/replay.test.ts).
    const clip = await dogClip(20);
    const config = {
      camera: { id: 'replay-cam' },
      analysis: { fps: 2 },
      zones: [
        {
          id: 'lane',
          type: 'no_parking',
          polygon: [
            [0, 0],
            [1, 0],
            [1, 1],
            [0, 1],
          ],
        },
      ],
      classes: { illegal_parking: { minDwellSec: 3 } },
    };
    const truth = {
      version: 1,
      clip: 'dog-20s.mp4',
      camera: config,
      episodes: [{ classId: 'illegal_parking', zoneId: 'lane', start: 0, end: 20 }],
    };
    await op.goto(`${stack.base}/replays`);
    await op.setInputFiles('input[name=clip]', clip);
    await op.fill('textarea[name=config]', JSON.stringify(config, null, 2));
    // Hostile ground truth first: the API names the field and the page shows it there.
    await op.fill(
      'textarea[name=groundTruth]',
      JSON.stringify({ ...truth, episodes: [{ ...truth.episodes[0], classId: 'no_such_class' }] }),
    );
    await op.click('form button.primary');
    await op.locator('.field-error[data-field^="groundTruth"]').waitFor();
    await op.fill('textarea[name=groundTruth]', JSON.stringify(truth, null, 2));
    await op.click('form button.primary');
    await op
      .locator('section[data-replay][data-state="completed"], section[data-replay][data-state="failed"]')
      .waitFor({ timeout: 120_000 });
    expect(await op.locator('section[data-replay] .error').count()).toBe(0);
    const pr = op.locator('p.pr');
    expect(Number(await pr.getAttribute('data-precision'))).toBe(1);
    expect(Number(await pr.getAttribute('data-recall'))).toBe(1);
    expect(Number(await op.locator('[data-testid=replay-timeline]').getAttribute('data-cases'))).toBeGreaterThan(0);
    // The would-be case's annotated snapshot (fetched with the key) is shown.
    await op.locator('.replay-snapshot img').first().waitFor({ timeout: 20_000 });
    await shot(op, 'replays');
  }, 150_000);

  it('adds a camera through the form (the API’s validation message at the field), then edits it', async () => {
    await op.goto(`${stack.base}/cameras`);
    await op.click('a[href="/cameras/new"]');
    await op.fill('input[name=id]', 'form_cam');
    await op.fill('input[name=name]', 'Added in the console');
    await op.fill('input[name=url]', 'ftp://127.0.0.1/street');
    // Disabled: nothing listens at this address and the worker must not try it.
    await op.uncheck('input[name=enabled]');
    await op.click('form button[type=submit]');
    const err = op.locator('.field-error[data-field="url"]');
    await err.waitFor();
    expect(await err.textContent()).toMatch(/rtsp|m3u8/i);
    await shot(op, 'camera-form-invalid');
    await op.fill('input[name=url]', 'rtsp://127.0.0.1:9/street');
    await op.click('form button[type=submit]');
    await op.waitForURL(/\/cameras\/form_cam$/);
    const created = await apiGet<{ name: string; enabled: boolean; version: number }>('/v1/cameras/form_cam');
    expect(created).toMatchObject({ name: 'Added in the console', enabled: false });

    await op.goto(`${stack.base}/cameras/form_cam/edit`);
    await op.locator('input[name=name]').waitFor();
    expect(await op.inputValue('input[name=name]')).toBe('Added in the console');
    await op.fill('input[name=name]', 'Renamed in the console');
    await shot(op, 'camera-form-edit');
    await op.click('form button[type=submit]');
    await op.waitForURL(/\/cameras\/form_cam$/);
    const edited = await apiGet<{ name: string; version: number; url: string }>('/v1/cameras/form_cam');
    expect(edited.name).toBe('Renamed in the console');
    expect(edited.version).toBeGreaterThan(created.version);
    await op.goto(`${stack.base}/cameras`);
    await op.locator('tr[data-camera="form_cam"]').waitFor();
    await shot(op, 'cameras-added');
  }, 60_000);

  it('a platform key sees no editing controls, and the API refuses its edits with 403', async () => {
    const page = await signedIn(stack, stack.keys.platform, 'zh');
    await page.goto(`${stack.base}/cameras/${DEMO_CAMERA_ID}/zones`);
    await page.locator('.read-only').waitFor();
    expect(await page.locator('.actions button.primary').count()).toBe(0);
    expect(await page.locator('text=新建区域').count()).toBe(0);
    expect(await page.locator('input[name=zoneName]').isDisabled()).toBe(true);
    // Enum values are translated: the kerb zone's type reads 禁止停车区, not no_parking.
    expect(await page.locator('li[data-zone="curb_lane"]').textContent()).toContain('禁止停车区');
    await shot(page, 'platform-zones');
    const res = await fetch(`${stack.base}/v1/cameras/${DEMO_CAMERA_ID}/zones`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${stack.keys.platform}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ zones: [] }),
    });
    expect(res.status).toBe(403);
    // Class tuning in Chinese: why each class is (in)active reads in Chinese too, and nothing is editable.
    await page.goto(`${stack.base}/cameras/${DEMO_CAMERA_ID}/classes`);
    const parking = page.locator('tr.class-row[data-class="illegal_parking"]');
    await parking.waitFor();
    expect(await parking.textContent()).toContain('在区域 curb_lane 中生效');
    await shot(page, 'platform-classes');
    await page.goto(`${stack.base}/cameras`);
    expect(await page.locator('text=添加摄像头').count()).toBe(0);
    await page.context().close();
  }, 90_000);
});
