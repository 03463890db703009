// Replays for testers: submit a clip (upload, allow-listed server path or stream URL) with a camera
// config and optional ground truth; a BullMQ job in api/replay/ runs it; poll for progress and
// the result; fetch the annotated snapshots.
import { randomBytes } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { groundTruthSchema } from '../../pipeline/eval/ground-truth.js';
import { checkUrlPolicy } from './cameras.js';
import { probeInput } from '../../pipeline/source/probe.js';
import { replayProgressSchema, snapshotKey, type ReplayJobData, type ReplayResult, type ReplayResultView } from '../replay/processor.js';
import type { ApiDeps } from '../deps.js';
import { ApiError, badRequest, notFound, validationError } from '../errors.js';
import { NotVideoError, probeVideoFile } from '../media.js';
import { defineRoute, type Access, type AnyRoute } from '../registry.js';
import { validateConfig } from './cameras.js';

const REPLAY: Access = ['admin', 'operator', 'tester'];

const options = {
  fps: z.number().gt(0).max(30).optional().describe("overrides the config's analysis.fps"),
  maxSeconds: z.number().positive().max(3600).optional().describe('live inputs: stop after this many stream seconds'),
};

const replayJson = z
  .object({
    url: z.string().min(1).max(2048).optional().describe('rtsp://, rtsps:// or http(s)://….m3u8'),
    path: z.string().min(1).max(1024).optional().describe('a clip under one of the server folders allowed for replays'),
    config: z.record(z.string(), z.unknown()).describe('camera config (same schema as cameras); camera.id optional'),
    groundTruth: z.record(z.string(), z.unknown()).optional().describe('ground-truth file (fixtures/GROUND_TRUTH.md) for precision/recall'),
    ...options,
  })
  .strict()
  .refine((b) => (b.url === undefined) !== (b.path === undefined), {
    path: ['url'],
    message: 'give exactly one of url or path (or upload a file to /v1/replays/upload)',
  });

const jsonField = (what: string) =>
  z.string().transform((s, ctx) => {
    try {
      const v = JSON.parse(s) as unknown;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
      return v as Record<string, unknown>;
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `${what} must be a JSON object: ${(err as Error).message}` });
      return z.NEVER;
    }
  });

const uploadForm = z
  .object({
    config: jsonField('config').describe('camera config, JSON text'),
    groundTruth: jsonField('groundTruth').optional().describe('ground-truth file, JSON text'),
    fps: z.coerce.number().gt(0).max(30).optional(),
  })
  .strict();

const replayParams = z.object({ id: z.string().regex(/^rp_[0-9a-f]{16}$/, 'replay id is rp_<16 hex>') });

function newReplayId(): string {
  return `rp_${randomBytes(8).toString('hex')}`;
}

function checkConfig(raw: Record<string, unknown>, field: string): Record<string, unknown> {
  const cam = (raw.camera ?? {}) as Record<string, unknown>;
  const id = typeof cam.id === 'string' ? cam.id : 'replay';
  validateConfig(id, raw, [field]);
  return { ...raw, camera: { ...cam, id } };
}

function checkGroundTruth(raw: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (raw === undefined) return undefined;
  const r = groundTruthSchema.safeParse(raw);
  if (!r.success) {
    for (const i of r.error.issues) (i as { path: PropertyKey[] }).path = ['groundTruth', ...i.path];
    throw validationError('body', r.error);
  }
  return raw;
}

/** A server path is accepted only inside an allow-listed folder, after resolving symlinks and `..`. */
async function allowedPath(deps: ApiDeps, p: string): Promise<string> {
  const roots = deps.replayMediaDirs ?? [];
  if (roots.length === 0) throw badRequest('server paths are not enabled for replays here; upload the clip or give a stream URL', 'path');
  let real: string;
  try {
    real = await realpath(path.resolve(roots[0]!, p));
  } catch {
    throw badRequest(`no such clip: ${p}`, 'path');
  }
  for (const root of roots) {
    const r = await realpath(root).catch(() => null);
    if (r && (real === r || real.startsWith(r + path.sep))) return real;
  }
  throw badRequest('path is outside the folders allowed for replays', 'path');
}

function resultView(id: string, r: ReplayResult | undefined): ReplayResultView | null {
  if (!r) return null;
  return {
    ...r,
    cases: r.cases.map((c) => ({
      ...c,
      snapshot: c.snapshot ? { ...c.snapshot, url: `/v1/replays/${id}/evidence/${path.posix.basename(c.snapshot.key)}` } : null,
    })),
  };
}

/** Queues one replay job (also used by try-before-save, which queues two). */
export async function submitReplay(deps: ApiDeps, data: Omit<ReplayJobData, 'replayId' | 'submittedAt'> & { replayId?: string }) {
  const replayId = data.replayId ?? newReplayId();
  const job: ReplayJobData = { ...data, replayId, submittedAt: Date.now() };
  await deps.replays.add('replay', job, { jobId: replayId });
  return { id: replayId, state: 'waiting', statusUrl: `/v1/replays/${replayId}` };
}

export function replayRoutes(deps: ApiDeps): AnyRoute[] {
  const submit = (data: Parameters<typeof submitReplay>[1]) => submitReplay(deps, data);
  return [
    defineRoute({
      id: 'createReplay',
      method: 'post',
      path: '/v1/replays',
      access: REPLAY,
      tag: 'replays',
      summary: 'Replay a stream URL or an allow-listed server clip with a camera config (async job)',
      body: replayJson,
      responses: [{ status: 202, description: 'Queued' }],
      handler: async ({ body, key }) => {
        const config = checkConfig(body.config, 'config');
        const groundTruth = checkGroundTruth(body.groundTruth);
        let input: string;
        let display: string;
        let kind: ReplayJobData['inputKind'];
        let hostHeader: string | undefined;
        if (body.url !== undefined) {
          // Scheme whitelist, then the address policy (replay rules: no private, loopback,
          // link-local or metadata targets unless REPLAY_ALLOW_CIDRS says so), before any connection.
          const spec = (await checkUrlPolicy(deps, body.url, 'replay', 'url'))!.spec;
          // Probe now (with the same protocol whitelist the worker uses) so a dead URL or a playlist
          // pointing at local files is refused to the tester instead of failing later in a job.
          try {
            await probeInput(spec, { timeoutMs: 10_000 });
          } catch (err) {
            throw new ApiError(422, 'INPUT_UNREADABLE', (err as Error).message, 'url');
          }
          // The job connects to the checked address, not to whatever the name resolves to later.
          input = spec.ffmpegInput;
          hostHeader = spec.hostHeader;
          display = spec.display;
          kind = 'url';
        } else {
          input = await allowedPath(deps, body.path!);
          try {
            await probeVideoFile(input);
          } catch (err) {
            throw new ApiError(422, 'NOT_A_VIDEO', (err as Error).message, 'path');
          }
          display = path.basename(input);
          kind = 'path';
        }
        return submit({
          input,
          inputKind: kind,
          ...(hostHeader ? { hostHeader } : {}),
          inputDisplay: display,
          config,
          groundTruth,
          fps: body.fps,
          maxSeconds: body.maxSeconds,
          submittedBy: key?.id,
        });
      },
    }),
    defineRoute({
      id: 'uploadReplay',
      method: 'post',
      path: '/v1/replays/upload',
      access: REPLAY,
      tag: 'replays',
      summary: 'Upload a clip (multipart; size-limited; verified as video with ffprobe) and replay it',
      upload: { field: 'clip', description: 'the video file (any container ffmpeg reads; checked by content, not name)' },
      body: uploadForm,
      responses: [
        { status: 202, description: 'Queued' },
        { status: 413, description: 'Upload larger than the limit' },
        { status: 422, description: 'Upload is not a video' },
      ],
      handler: async ({ body, file, res, key }) => {
        if (!file) throw badRequest('multipart field "clip" with the video file is required', 'clip');
        const config = checkConfig(body.config, 'config');
        const groundTruth = checkGroundTruth(body.groundTruth);
        try {
          await probeVideoFile(file.path);
        } catch (err) {
          if (err instanceof NotVideoError) throw new ApiError(422, 'NOT_A_VIDEO', err.message, 'clip');
          throw err;
        }
        const out = await submit({
          input: file.path,
          inputKind: 'upload',
          inputDisplay: path.basename(file.originalname || 'upload'),
          config,
          groundTruth,
          fps: body.fps,
          submittedBy: key?.id,
        });
        // From here the worker owns (and deletes) the file.
        res.locals.keepUpload = true;
        return out;
      },
    }),
    defineRoute({
      id: 'getReplay',
      method: 'get',
      path: '/v1/replays/:id',
      access: REPLAY,
      tag: 'replays',
      summary: 'Replay state, progress and (when completed) events, would-be cases, snapshots and precision/recall',
      params: replayParams,
      handler: async ({ params }) => {
        let job = await deps.replays.getJob(params.id);
        if (!job) throw notFound(`replay ${params.id} not found`);
        const state = await job.getState();
        // The job may have finished between reading it and reading its state: read it again so a
        // "completed" answer always carries its result.
        if ((state === 'completed' && job.returnvalue == null) || (state === 'failed' && !job.failedReason)) {
          job = (await deps.replays.getJob(params.id)) ?? job;
        }
        return {
          id: params.id,
          state,
          input: job.data.inputDisplay,
          submittedAt: job.data.submittedAt,
          finishedAt: job.finishedOn ?? null,
          progress: replayProgressSchema.safeParse(job.progress).data ?? null,
          error: state === 'failed' ? job.failedReason : null,
          result: state === 'completed' ? resultView(params.id, job.returnvalue) : null,
        };
      },
    }),
    defineRoute({
      id: 'getReplayEvidence',
      method: 'get',
      path: '/v1/replays/:id/evidence/:name',
      access: REPLAY,
      tag: 'replays',
      summary: 'An annotated snapshot of a replay (JPEG)',
      params: z.object({
        id: replayParams.shape.id,
        name: z.string().regex(/^[A-Za-z0-9_.-]{1,200}\.jpg$/, 'snapshot name <event id>.jpg'),
      }),
      responses: [{ status: 200, description: 'JPEG', contentType: 'image/jpeg' }],
      handler: async ({ params, res }) => {
        const key = snapshotKey(params.id, params.name.slice(0, -4));
        if (!(await deps.evidence.exists(key))) throw notFound(`no snapshot ${params.name} in replay ${params.id}`);
        res
          .status(200)
          .type('image/jpeg')
          .send(await deps.evidence.get(key));
        return undefined;
      },
    }),
  ];
}
