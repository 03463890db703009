// Liveness, readiness, metrics, the OpenAPI document and API-key management.
import { z } from 'zod';
import { HEALTH_STATES } from '../../infra/stores/health-store.js';
import { ApiKeyStore, ROLES } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { ApiError, notFound } from '../errors.js';
import { createMetricsRegistry } from '../metrics.js';
import { defineRoute, openApiDocument, type AnyRoute } from '../registry.js';

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`${what} did not answer within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(t));
}

export function systemRoutes(deps: ApiDeps, keys: ApiKeyStore, allRoutes: () => readonly AnyRoute[]): AnyRoute[] {
  const registry = createMetricsRegistry({
    redis: deps.redis,
    prefix: deps.prefix,
    queues: [deps.replays, ...(deps.queues ?? [])],
    knownStates: HEALTH_STATES,
    cameraStates: async () => {
      const cams = await deps.cameras.list();
      return (await deps.health.list(cams.map((c) => c.id))).map((h) => ({ cameraId: h.cameraId, state: h.state }));
    },
  });
  let doc: Record<string, unknown> | null = null;
  const timeout = deps.readyTimeoutMs ?? 2000;
  return [
    defineRoute({
      id: 'healthz',
      method: 'get',
      path: '/healthz',
      access: 'public',
      tag: 'system',
      summary: 'Liveness: the process answers (no dependencies checked)',
      handler: async () => ({ status: 'ok' }),
    }),
    defineRoute({
      id: 'readyz',
      method: 'get',
      path: '/readyz',
      access: ['admin', 'operator', 'platform', 'tester'],
      tag: 'system',
      summary: 'Readiness: Redis and the evidence store (S3) reachable, plus configured checks',
      responses: [
        { status: 200, description: 'Ready' },
        { status: 503, description: 'A dependency is unreachable (body names it)' },
      ],
      handler: async ({ res }) => {
        const checks = [
          { name: 'redis', check: async () => void (await deps.redis.ping()) },
          { name: `evidence (${deps.evidence.kind})`, check: async () => void (await deps.evidence.exists('readyz-probe')) },
          ...(deps.readiness ?? []),
        ];
        const results = await Promise.all(
          checks.map(async (c) => {
            const t0 = Date.now();
            try {
              await withTimeout(c.check(), timeout, c.name);
              return { name: c.name, ok: true, ms: Date.now() - t0 };
            } catch (err) {
              return { name: c.name, ok: false, ms: Date.now() - t0, error: (err as Error).message };
            }
          }),
        );
        const ok = results.every((r) => r.ok);
        res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not ready', checks: results });
        return undefined;
      },
    }),
    defineRoute({
      id: 'metrics',
      method: 'get',
      path: '/metrics',
      access: ['admin', 'operator'],
      tag: 'system',
      summary: 'Prometheus metrics: frames, inference latency, drops, events, cases, deliveries, queues, camera states',
      responses: [{ status: 200, description: 'Prometheus text format', contentType: 'text/plain' }],
      handler: async ({ res }) => {
        res
          .status(200)
          .type(registry.contentType)
          .send(await registry.metrics());
        return undefined;
      },
    }),
    defineRoute({
      id: 'openapi',
      method: 'get',
      path: '/openapi.json',
      access: 'public',
      tag: 'system',
      summary: 'This OpenAPI 3 document (public: it describes the interface and holds no data)',
      handler: async () =>
        (doc ??= openApiDocument(allRoutes(), {
          title: 'citywatch API',
          version: deps.version ?? '0.1.0',
          description: 'Cameras, zones, classes, cases, replays and statistics for city-management video analytics.',
        })),
    }),
    defineRoute({
      id: 'listKeys',
      method: 'get',
      path: '/v1/keys',
      access: ['admin'],
      tag: 'keys',
      summary: 'API keys (ids, names, roles; never the secrets)',
      handler: async () => ({ items: await keys.list() }),
    }),
    defineRoute({
      id: 'createKey',
      method: 'post',
      path: '/v1/keys',
      access: ['admin'],
      tag: 'keys',
      summary: 'Create an API key; the secret is in this response only',
      audit: {
        target: () => 'keys',
        snapshot: async () => null,
        after: (r) => {
          const { key: _secret, ...record } = r as { key: string };
          return record;
        },
      },
      body: z.object({ name: z.string().trim().min(1).max(200), role: z.enum(ROLES) }).strict(),
      responses: [{ status: 201, description: 'Created' }],
      handler: async ({ body }) => {
        const { key, record } = await keys.create(body.name, body.role);
        return { key, ...record };
      },
    }),
    defineRoute({
      id: 'revokeKey',
      method: 'delete',
      path: '/v1/keys/:id',
      access: ['admin'],
      tag: 'keys',
      summary: 'Revoke an API key',
      audit: {
        target: ({ params }) => `key:${params.id}`,
        snapshot: async (t) => (await keys.list()).find((k) => `key:${k.id}` === t) ?? null,
      },
      params: z.object({ id: z.string().regex(/^key_[A-Za-z0-9-]{1,40}$|^bootstrap[A-Za-z0-9-]*$/, 'key id') }),
      responses: [{ status: 204, description: 'Revoked' }],
      handler: async ({ params, key }) => {
        if (key?.id === params.id) throw new ApiError(409, 'SELF_REVOKE', 'a key cannot revoke itself (use another admin key)');
        if (!(await keys.revoke(params.id))) throw notFound(`key ${params.id} not found`);
        return undefined;
      },
    }),
  ];
}
