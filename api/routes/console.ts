// What the operator console needs beyond the rest of the API (api/CONSOLE-CONTRACT.md): who the key
// is and which operations it may call, a camera's live debug view (the worker's latest analysed
// frame with the rules engine's decision per subject), try-before-save replays of the recording
// ring with the saved and an edited config, and rejection statistics.
import { randomBytes } from 'node:crypto';
import { copyFile, link, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { assembleClip } from '../../pipeline/evidence/clip.js';
import { ringDirOf, ringSegments } from '../../pipeline/source/recorder.js';
import { LiveStore, liveWatchMs } from '../../infra/stores/live-store.js';
import type { ApiDeps } from '../deps.js';
import { ApiError, notFound } from '../errors.js';
import { defineRoute, instant, type Access, type AnyRoute } from '../registry.js';
import { validateConfig } from './cameras.js';
import { submitReplay } from './replays.js';

const ALL: Access = ['admin', 'operator', 'platform', 'tester'];
const READ: Access = ['admin', 'operator', 'platform'];
const EDIT: Access = ['admin', 'operator'];

const cameraParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, '1–64 of A-Z a-z 0-9 _ . -') });

const rejectionQuery = z
  .object({
    from: instant.optional(),
    to: instant.optional(),
    cameraId: z.string().max(64).optional(),
    limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  })
  .strict()
  .refine((q) => q.from === undefined || q.to === undefined || q.from <= q.to, { path: ['to'], message: 'to must not be before from' });

export const TRY_MINUTES = { min: 1, max: 10, default: 2 } as const;

const tryBody = z
  .object({
    config: z
      .record(z.string(), z.unknown())
      .describe('the full camera config as edited, unsaved (same schema as PUT /v1/cameras/:id/config)'),
    minutes: z
      .number()
      .min(TRY_MINUTES.min, { message: `minutes must be ${TRY_MINUTES.min}..${TRY_MINUTES.max}` })
      .max(TRY_MINUTES.max, { message: `minutes must be ${TRY_MINUTES.min}..${TRY_MINUTES.max} (the recording ring is short)` })
      .default(TRY_MINUTES.default)
      .describe(`how much of the recording ring to replay, ${TRY_MINUTES.min}..${TRY_MINUTES.max} minutes`),
  })
  .strict();

async function mustGetCamera(deps: ApiDeps, id: string) {
  const cam = await deps.cameras.get(id);
  if (!cam) throw notFound(`camera ${id} not found`);
  return cam;
}

/** Why a camera has no live record right now, for the 404. */
async function whyNoLive(deps: ApiDeps, cam: { id: string; enabled: boolean }, ttlHint: string): Promise<string> {
  if (!cam.enabled) return `camera ${cam.id} is disabled: nothing analyses it`;
  const h = await deps.health.get(cam.id);
  if (!h) return `no worker has reported camera ${cam.id} yet`;
  if (h.state !== 'online') return `camera ${cam.id} is ${h.state}${h.reason ? `: ${h.reason}` : ''}`;
  return (
    `no analysed frame of camera ${cam.id} published ${ttlHint} (workers publish at most one per LIVE_FRAME_INTERVAL_SEC; 0 turns it off), ` +
    `and only while someone watches the camera: this request marked it watched for ${liveWatchMs(deps.liveWatchSec) / 1000} s (LIVE_WATCH_SEC), ` +
    'so the first record follows within a few seconds'
  );
}

export function consoleRoutes(deps: ApiDeps, allRoutes: () => readonly AnyRoute[]): AnyRoute[] {
  const live = new LiveStore(deps.redis, deps.prefix);
  // Every read of the live view (record, frame, thumbnail) keeps the camera watched: its worker
  // publishes only meanwhile (workers/live.ts).
  const watchMs = liveWatchMs(deps.liveWatchSec);
  const noLive = async (cam: { id: string; enabled: boolean }) =>
    new ApiError(404, 'NO_LIVE_FRAME', await whyNoLive(deps, cam, 'recently (records expire after LIVE_TTL_SEC, default 30 s)'));
  return [
    defineRoute({
      id: 'me',
      method: 'get',
      path: '/v1/me',
      access: ALL,
      tag: 'system',
      summary: 'The calling key (id, name, role) and the operationIds its role may call, so a client shows only what it can do',
      handler: async ({ key }) => {
        const role = key!.role;
        return {
          keyId: key!.id,
          name: key!.name,
          role,
          operations: allRoutes()
            .filter((r) => r.access === 'public' || r.access.includes(role))
            .map((r) => r.id),
        };
      },
    }),
    defineRoute({
      id: 'getCameraLive',
      method: 'get',
      path: '/v1/cameras/:id/live',
      access: READ,
      tag: 'cameras',
      summary:
        "The camera's latest analysed frame as the worker saw it: detections, tracks, zones and why each subject is or is not a candidate",
      description:
        'Marks the camera watched for LIVE_WATCH_SEC: workers publish live records only for watched cameras, so the first read of an online camera may answer 404 NO_LIVE_FRAME and a record follows within a few seconds.',
      params: cameraParams,
      responses: [
        { status: 200, description: 'Live record (boxes in source pixels)' },
        { status: 404, description: 'Unknown camera (NOT_FOUND), or no live record now (NO_LIVE_FRAME, the message says why)' },
      ],
      handler: async ({ params }) => {
        const cam = await mustGetCamera(deps, params.id);
        const [rec] = await Promise.all([live.get(cam.id), live.watch(cam.id, watchMs)]);
        if (!rec) throw await noLive(cam);
        return {
          ...rec,
          ageMs: Math.max(0, Date.now() - rec.wallTime),
          frame: rec.frame ? { ...rec.frame, url: `/v1/cameras/${encodeURIComponent(cam.id)}/live/frame` } : null,
        };
      },
    }),
    defineRoute({
      id: 'getCameraLiveFrame',
      method: 'get',
      path: '/v1/cameras/:id/live/frame',
      access: READ,
      tag: 'cameras',
      summary: 'The picture of the latest live record (JPEG, the analysed frame without letterbox padding); also the camera thumbnail',
      description: 'Marks the camera watched for LIVE_WATCH_SEC, like GET /v1/cameras/:id/live.',
      params: cameraParams,
      responses: [
        { status: 200, description: 'JPEG', contentType: 'image/jpeg' },
        { status: 404, description: 'Unknown camera, or no live frame now (NO_LIVE_FRAME)' },
      ],
      handler: async ({ params, res }) => {
        const cam = await mustGetCamera(deps, params.id);
        const [rec, jpeg] = await Promise.all([live.get(cam.id), live.getFrame(cam.id), live.watch(cam.id, watchMs)]);
        if (!jpeg || !rec) throw await noLive(cam);
        res
          .status(200)
          .type('image/jpeg')
          .set({
            'Cache-Control': 'no-store',
            'X-Frame-Index': String(rec.frameIndex),
            'X-Wall-Time': String(rec.wallTime),
            'X-Config-Version': String(rec.configVersion),
          })
          .send(jpeg);
        return undefined;
      },
    }),
    defineRoute({
      id: 'tryCameraConfig',
      method: 'post',
      path: '/v1/cameras/:id/try',
      access: EDIT,
      tag: 'cameras',
      summary:
        "Try an unsaved config: replay the last minutes of the camera's recording ring with the saved and with the edited config (two replay jobs)",
      description:
        "Needs the recording ring, which lives in the workers' DATA_DIR: works when the API shares it (embedded mode, the docker-compose data volume); otherwise 409 RING_UNAVAILABLE. Poll GET /v1/replays/:id for `saved` and `edited`.",
      params: cameraParams,
      body: tryBody,
      responses: [
        { status: 202, description: 'Both replays queued' },
        { status: 409, description: 'RING_UNAVAILABLE: no recorded segments of this camera reachable from this API process' },
      ],
      handler: async ({ params, body, key }) => {
        const cam = await mustGetCamera(deps, params.id);
        // The same schema and field mapping as PUT /v1/cameras/:id/config, under `config.`.
        const edited = validateConfig(cam.id, body.config, ['config']);
        const unavailable = (why: string) =>
          new ApiError(
            409,
            'RING_UNAVAILABLE',
            `${why}; try-before-save replays the recording ring in the workers' DATA_DIR, which this API process must share (embedded mode, or the docker-compose data volume)`,
          );
        if (!deps.dataDir) throw unavailable('this API process has no DATA_DIR of the workers');
        let ringDir: string;
        try {
          ringDir = ringDirOf(deps.dataDir, cam.id);
        } catch (err) {
          throw unavailable((err as Error).message);
        }
        const to = Date.now();
        const from = to - body.minutes * 60_000;
        const ring = await ringSegments(ringDir, { from, to, clock: 'wall' });
        if (ring.length === 0)
          throw unavailable(
            `no recorded segments of camera ${cam.id} from the last ${body.minutes} min under ${path.join('DATA_DIR', 'rings', cam.id)}`,
          );
        const tryId = `try_${randomBytes(8).toString('hex')}`;
        await mkdir(deps.uploadDir, { recursive: true });
        const savedClip = path.join(deps.uploadDir, `${tryId}-saved.mp4`);
        const editedClip = path.join(deps.uploadDir, `${tryId}-edited.mp4`);
        const clip = await assembleClip({
          ringDir,
          ring,
          request: { start: from, end: to, clock: 'wall', preRollSec: 0, postRollSec: 0 },
          outPath: savedClip,
        });
        if (!clip.path || !clip.coverage.actual)
          throw unavailable(`the segments of camera ${cam.id} were pruned before they could be read`);
        try {
          // Each replay job deletes its clip when done: two names for one file.
          await link(savedClip, editedClip).catch(() => copyFile(savedClip, editedClip));
          const [a, b] = clip.coverage.actual;
          const display = (which: string) => `ring of ${cam.id}, ${new Date(a).toISOString()}–${new Date(b).toISOString()} (${which})`;
          const common = { inputKind: 'upload' as const, submittedBy: key?.id };
          const saved = await submitReplay(deps, {
            ...common,
            input: savedClip,
            inputDisplay: display(`saved config v${cam.version}`),
            config: cam.config,
          });
          const editedJob = await submitReplay(deps, {
            ...common,
            input: editedClip,
            inputDisplay: display('edited config'),
            config: edited,
          });
          return {
            tryId,
            saved: saved.id,
            edited: editedJob.id,
            minutes: body.minutes,
            savedVersion: cam.version,
            clip: {
              from: a,
              to: b,
              seconds: Math.round((b - a) / 100) / 10,
              segments: clip.segments.length,
              missingSec: Math.round((clip.coverage.missingBefore + clip.coverage.missingAfter + clip.coverage.gapSec) * 10) / 10,
            },
          };
        } catch (err) {
          await rm(savedClip, { force: true });
          await rm(editedClip, { force: true });
          throw err;
        }
      },
    }),
    defineRoute({
      id: 'rejectionStats',
      method: 'get',
      path: '/v1/stats/rejections',
      access: READ,
      tag: 'stats',
      summary: 'Per camera × class × zone: cases, rejected cases, rejection rate and the rejection reasons, for cases created in a range',
      query: rejectionQuery,
      handler: async ({ query }) => ({ from: query.from ?? null, to: query.to ?? null, items: await deps.cases.rejectionStats(query) }),
    }),
  ];
}
