// Cases for the platform: filtered, cursor-paged lists, status updates, evidence links, statistics
// (hot spots) and the webhook dead-letter list.
import { z } from 'zod';
import { CATALOG, isClassId } from '../../pipeline/rules/catalog.js';
import { CASE_STATES, type CasePage, type CaseRecord, type CaseState } from '../../infra/stores/case-store.js';
import { csvHeader, csvRows, geoJsonFeature, type CameraLocation } from '../../infra/stores/case-export.js';
import type { ApiDeps } from '../deps.js';
import { DEFAULT_EVIDENCE_URL_TTL_SEC, EvidenceLinks, MAX_EVIDENCE_URL_TTL_SEC } from '../../infra/evidence-links.js';
import { ApiError, badRequest, notFound } from '../errors.js';
import { STATUS_UPDATES } from '../../infra/stores/case-states.js';
import { defineRoute, instant, pageLimit, type Access, type AnyRoute } from '../registry.js';
import { rejectAndSuppress, SUPPRESS_ROLES } from '../suppress.js';

const READ: Access = ['admin', 'operator', 'platform'];
const STATUS: Access = ['admin', 'operator', 'platform'];
const DELIVERY: Access = ['admin', 'operator'];

const classIdParam = z.string().refine(isClassId, { message: `unknown violation class (known: ${CATALOG.map((c) => c.id).join(', ')})` });

const stateList = z
  .string()
  .transform((s, ctx) => {
    const parts = s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    const bad = parts.filter((p) => !(CASE_STATES as readonly string[]).includes(p));
    if (bad.length || parts.length === 0) {
      ctx.addIssue({ code: 'custom', message: `unknown case state(s) ${bad.join(', ') || '(empty)'} (known: ${CASE_STATES.join(', ')})` });
      return z.NEVER;
    }
    return parts as CaseState[];
  })
  .describe(`comma-separated case states (${CASE_STATES.join(', ')})`);

const filterFields = {
  classId: classIdParam.optional(),
  cameraId: z.string().max(64).optional(),
  zoneId: z.string().max(64).optional(),
  state: stateList.optional(),
  categoryCode: z
    .string()
    .regex(/^[0-9A-Za-z]{2,12}$/, 'a category code is 2-12 letters/digits')
    .optional()
    .describe('city category code (大类/小类), e.g. 0501'),
  q: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .optional()
    .describe('text: part of the case id, class names, camera or zone names/ids, category code'),
  from: instant.optional(),
  to: instant.optional(),
};
/** The case filters of a parsed list or export query (one mapping for both routes). */
const filtersOf = (q: { [K in keyof typeof filterFields]?: z.infer<(typeof filterFields)[K]> }) => ({
  classId: q.classId,
  cameraId: q.cameraId,
  zoneId: q.zoneId,
  state: q.state,
  categoryCode: q.categoryCode,
  q: q.q,
  from: q.from,
  to: q.to,
});
const rangeOk = (q: { from?: number; to?: number }) => q.from === undefined || q.to === undefined || q.from <= q.to;

const listQuery = z
  .object({
    ...filterFields,
    limit: pageLimit(50),
    cursor: z.string().max(500).optional(),
  })
  .strict()
  .refine(rangeOk, { path: ['to'], message: 'to must not be before from' });

const exportQuery = z
  .object({
    ...filterFields,
    format: z.enum(['csv', 'geojson']).default('csv'),
    limit: z.coerce.number().int().min(1).max(100_000).default(10_000),
  })
  .strict()
  .refine(rangeOk, { path: ['to'], message: 'to must not be before from' });

const hotSpotQuery = z
  .object({
    from: instant.optional(),
    to: instant.optional(),
    classId: classIdParam.optional(),
    top: z.coerce.number().int().min(1).max(100).default(10),
  })
  .strict()
  .refine(rangeOk, { path: ['to'], message: 'to must not be before from' });

const trendQuery = z
  .object({ at: instant.optional(), classId: classIdParam.optional(), top: z.coerce.number().int().min(1).max(500).default(20) })
  .strict();

const matrixQuery = z
  .object({
    from: instant.optional(),
    to: instant.optional(),
    classId: classIdParam.optional(),
    cameraId: z.string().max(64).optional(),
    limit: z.coerce.number().int().min(1).max(100_000).default(10_000),
  })
  .strict()
  .refine(rangeOk, { path: ['to'], message: 'to must not be before from' });

const caseParams = z.object({ id: z.string().regex(/^case_[0-9a-f]{1,64}$/, 'case id is case_<hex>') });

const statusBody = z
  .object({
    state: z.enum(STATUS_UPDATES),
    reason: z.string().trim().min(1).max(1000).optional(),
    suppress: z
      .boolean()
      .optional()
      .describe('with rejected: add a suppression of the case class over its box to the camera config (admin/operator)'),
    suppressPadding: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe('padding of the suppression per side, as a fraction of the box size (default 0.1)'),
  })
  .strict()
  .refine((b) => b.state !== 'rejected' || b.reason !== undefined, {
    path: ['reason'],
    message: 'a rejection needs a reason (why it is not a violation)',
  })
  .refine((b) => !b.suppress || b.state === 'rejected', { path: ['suppress'], message: 'suppress goes with state "rejected" only' })
  .refine((b) => b.suppressPadding === undefined || b.suppress === true, {
    path: ['suppressPadding'],
    message: 'suppressPadding goes with suppress: true',
  });

const rangeQuery = z
  .object({ from: instant.optional(), to: instant.optional(), top: z.coerce.number().int().min(1).max(100).default(10) })
  .strict()
  .refine((q) => q.from === undefined || q.to === undefined || q.from <= q.to, { path: ['to'], message: 'to must not be before from' });

function requireDeliveries(deps: ApiDeps) {
  if (!deps.deliveries) throw new ApiError(503, 'NOT_CONFIGURED', 'webhook delivery is not configured in this deployment');
  return deps.deliveries;
}

async function mustGetCase(deps: ApiDeps, id: string): Promise<CaseRecord> {
  const c = await deps.cases.get(id);
  if (!c) throw notFound(`case ${id} not found`);
  return c;
}

const evidenceQuery = z
  .object({
    expiresIn: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_EVIDENCE_URL_TTL_SEC)
      .optional()
      .describe('URL lifetime in seconds (default: the deployment default, 900)'),
  })
  .strict();

const fileQuery = z
  .object({ key: z.string().min(1).max(900), exp: z.coerce.number().int().positive(), sig: z.string().min(1).max(200) })
  .strict();

export function caseRoutes(deps: ApiDeps): AnyRoute[] {
  const expiry = deps.presignExpirySec ?? DEFAULT_EVIDENCE_URL_TTL_SEC;
  const links = (deps.evidenceLinks ??= new EvidenceLinks(null));
  return [
    defineRoute({
      id: 'listCases',
      method: 'get',
      path: '/v1/cases',
      access: READ,
      tag: 'cases',
      summary: 'Cases, newest first, filtered by class, camera, zone, state, category code, text and creation time; keyset-paged',
      query: listQuery,
      handler: async ({ query }) => {
        try {
          return await deps.cases.list(filtersOf(query), { limit: query.limit, cursor: query.cursor ?? null });
        } catch (err) {
          if (/invalid cursor/.test((err as Error).message))
            throw badRequest('invalid cursor (pass nextCursor from the previous page unchanged)', 'cursor');
          throw err;
        }
      },
    }),
    defineRoute({
      id: 'exportCases',
      method: 'get',
      path: '/v1/cases/export',
      access: READ,
      tag: 'cases',
      summary: "Cases as CSV or GeoJSON (the same filters as the list), with each camera's configured location",
      query: exportQuery,
      responses: [
        {
          status: 200,
          description: 'text/csv (UTF-8 with BOM) or application/geo+json; newest first, at most `limit` cases',
          contentType: 'text/csv',
        },
        { status: 400, description: 'invalid filter' },
      ],
      handler: async ({ query, res }) => {
        const filters = filtersOf(query);
        const locations = new Map<string, CameraLocation | undefined>();
        const locate = async (ids: string[]) => {
          for (const id of ids) if (!locations.has(id)) locations.set(id, (await deps.cameras.get(id))?.config.camera.location);
        };
        const csv = query.format === 'csv';
        const stamp = new Date().toISOString().slice(0, 10);
        res.status(200).set({
          'Content-Type': csv ? 'text/csv; charset=utf-8' : 'application/geo+json; charset=utf-8',
          'Content-Disposition': `attachment; filename="cases-${stamp}.${csv ? 'csv' : 'geojson'}"`,
          'Cache-Control': 'no-store',
        });
        res.write(csv ? csvHeader() : '{"type":"FeatureCollection","features":[');
        let cursor: string | null = null;
        let n = 0;
        do {
          const page: CasePage = await deps.cases.list(filters, { limit: Math.min(500, query.limit - n), cursor });
          await locate([...new Set(page.items.map((c) => c.cameraId))]);
          if (csv) res.write(csvRows(page.items, locations));
          else for (const c of page.items) res.write((n++ > 0 ? ',' : '') + JSON.stringify(geoJsonFeature(c, locations.get(c.cameraId))));
          if (csv) n += page.items.length;
          cursor = page.nextCursor;
        } while (cursor && n < query.limit);
        res.end(csv ? '' : ']}');
        return undefined;
      },
    }),
    defineRoute({
      id: 'caseHotSpots',
      method: 'get',
      path: '/v1/stats/hotspots',
      access: READ,
      tag: 'stats',
      summary: 'Top-N camera zones by cases (高发区域) over a range, optionally for one class, with their classes and peak hour',
      query: hotSpotQuery,
      handler: async ({ query }) => ({ from: query.from ?? null, to: query.to ?? null, items: await deps.cases.hotSpots(query) }),
    }),
    defineRoute({
      id: 'caseTrend',
      method: 'get',
      path: '/v1/stats/trend',
      access: READ,
      tag: 'stats',
      summary: 'Week over week per class and camera zone: the 7 days before `at` (default now) against the 7 before',
      query: trendQuery,
      handler: async ({ query }) => deps.cases.trend(query),
    }),
    defineRoute({
      id: 'caseMatrix',
      method: 'get',
      path: '/v1/stats/matrix',
      access: READ,
      tag: 'stats',
      summary: "Case counts per class × camera zone × day × hour of day (camera's time zone), non-zero cells",
      query: matrixQuery,
      handler: async ({ query }) => ({ items: await deps.cases.matrix(query) }),
    }),
    defineRoute({
      id: 'getCase',
      method: 'get',
      path: '/v1/cases/:id',
      access: READ,
      tag: 'cases',
      summary: 'One case with its reason record and history',
      params: caseParams,
      handler: async ({ params }) => mustGetCase(deps, params.id),
    }),
    defineRoute({
      id: 'getCaseEvidence',
      method: 'get',
      path: '/v1/cases/:id/evidence',
      access: READ,
      tag: 'cases',
      summary: "A case's evidence with short-lived download URLs minted now (object store: presigned; filesystem: a signed API link)",
      params: caseParams,
      query: evidenceQuery,
      handler: async ({ params, query, req }) => {
        const c = await mustGetCase(deps, params.id);
        const ttl = query.expiresIn ?? expiry;
        const base = `${req.protocol}://${req.get('host') ?? 'localhost'}`;
        const items = await Promise.all(
          c.evidence.map(async (e) => {
            if (e.store !== deps.evidence.kind) return { ...e, url: null };
            if (e.store === 'fs')
              return { ...e, url: (await deps.evidence.exists(e.key)) ? `${base}/v1/evidence/file?${links.mint(e.key, ttl).query}` : null };
            return { ...e, url: await deps.evidence.presign(e.key, ttl).catch(() => null) };
          }),
        );
        return { caseId: c.id, evidenceStatus: c.evidenceStatus, expiresInSec: ttl, expiresAt: Date.now() + ttl * 1000, items };
      },
    }),
    defineRoute({
      id: 'getEvidenceFile',
      method: 'get',
      path: '/v1/evidence/file',
      access: 'public',
      tag: 'cases',
      summary: 'Download one evidence file of the filesystem store through a signed, expiring link from GET /v1/cases/:id/evidence',
      query: fileQuery,
      responses: [
        { status: 200, description: 'the file', contentType: 'application/octet-stream' },
        { status: 403, description: 'bad signature or expired link' },
        { status: 404, description: 'no such file' },
      ],
      handler: async ({ query, res }) => {
        const v = links.check(query.key, query.exp, query.sig);
        if (v !== 'ok')
          throw new ApiError(
            403,
            v === 'expired' ? 'LINK_EXPIRED' : 'BAD_SIGNATURE',
            v === 'expired' ? 'this evidence link has expired; get a new one from GET /v1/cases/:id/evidence' : 'invalid evidence link',
          );
        const info = await deps.evidence.stat(query.key);
        if (!info) throw notFound('no such evidence file');
        const stream = await deps.evidence.getStream(query.key);
        res.status(200).set({
          'Content-Type': info.contentType ?? 'application/octet-stream',
          'Content-Length': String(info.bytes),
          'Cache-Control': 'private, no-store',
        });
        await new Promise<void>((resolve, reject) => {
          stream.on('error', reject);
          res.on('finish', resolve);
          res.on('close', resolve);
          stream.pipe(res);
        });
        return undefined;
      },
    }),
    defineRoute({
      id: 'updateCaseStatus',
      method: 'post',
      path: '/v1/cases/:id/status',
      access: STATUS,
      tag: 'cases',
      summary:
        'Platform status update: dispatched / handled / closed / rejected (rejected needs a reason; suppress: true also stops the camera raising that class over the case box)',
      params: caseParams,
      body: statusBody,
      handler: async ({ params, body, key, req }) => {
        const c = await mustGetCase(deps, params.id);
        if (body.suppress) {
          // A suppression changes the camera config: the config editors' roles, not the platform's.
          if (!key || !(SUPPRESS_ROLES as readonly string[]).includes(key.role)) {
            throw new ApiError(
              403,
              'FORBIDDEN',
              `role "${key?.role ?? 'none'}" may not suppress: it changes the camera config (allowed: ${SUPPRESS_ROLES.join(', ')}); reject without suppress`,
              'suppress',
            );
          }
          return rejectAndSuppress(deps, c, { reason: body.reason!, padding: body.suppressPadding, key, req });
        }
        return deps.cases.transition(params.id, body.state, { reason: body.reason, actor: key ? `${key.role}:${key.name}` : undefined });
      },
    }),
    defineRoute({
      id: 'caseStats',
      method: 'get',
      path: '/v1/stats',
      access: READ,
      tag: 'stats',
      summary: 'Case counts per class, zone, camera, state and hour of day over a range, with hot spots (高发区域)',
      query: rangeQuery,
      handler: async ({ query }) => {
        const s = await deps.cases.stats({ from: query.from, to: query.to });
        const hotSpots = Object.entries(s.byZone)
          .map(([k, count]) => {
            const i = k.indexOf('/');
            return { cameraId: k.slice(0, i), zoneId: k.slice(i + 1) === '-' ? null : k.slice(i + 1), count };
          })
          .sort((a, b) => b.count - a.count || a.cameraId.localeCompare(b.cameraId))
          .slice(0, query.top);
        return { ...s, hotSpots };
      },
    }),
    defineRoute({
      id: 'listDeadLetters',
      method: 'get',
      path: '/v1/deliveries/dead-letters',
      access: DELIVERY,
      tag: 'deliveries',
      summary: 'Webhook deliveries that exhausted their retries',
      query: z.object({ limit: pageLimit(100) }).strict(),
      handler: async ({ query }) => ({ items: (await requireDeliveries(deps).listDeadLetters()).slice(0, query.limit) }),
    }),
    defineRoute({
      id: 'getDelivery',
      method: 'get',
      path: '/v1/deliveries/:key',
      access: DELIVERY,
      tag: 'deliveries',
      summary: 'One delivery by idempotency key (pending, delivered, dead or skipped; attempts and last error)',
      params: z.object({ key: z.string().min(1).max(300) }),
      handler: async ({ params }) => {
        const rec = await requireDeliveries(deps).get(params.key);
        if (!rec) throw notFound(`no delivery with key ${params.key}`);
        return rec;
      },
    }),
    defineRoute({
      id: 'redeliver',
      method: 'post',
      path: '/v1/deliveries/:key/redeliver',
      access: DELIVERY,
      tag: 'deliveries',
      summary: 'Queue a dead letter again (same idempotency key and body)',
      params: z.object({ key: z.string().min(1).max(300) }),
      handler: async ({ params }) => {
        const d = requireDeliveries(deps);
        const rec = await d.get(params.key);
        if (!rec) throw notFound(`no delivery with key ${params.key}`);
        if (rec.status !== 'dead')
          throw new ApiError(409, 'NOT_DEAD_LETTER', `delivery ${params.key} is ${rec.status}; only dead letters can be redelivered`);
        return d.redeliver(params.key);
      },
    }),
  ];
}
