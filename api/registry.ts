// The route registry: each route is declared once (method, path, roles, zod schemas, summary) and
// that one declaration both mounts the express handler and generates the OpenAPI document, so the
// documentation cannot drift from what the server does.
import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import { z } from 'zod';
import type { ApiKeyRecord, Role } from './auth.js';
import { ApiError, validationError } from './errors.js';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
/** Roles allowed to call a route, or 'public' (no key needed). */
export type Access = readonly Role[] | 'public';

export interface UploadSpec {
  /** Multipart field carrying the file. */
  field: string;
  description: string;
}

export interface ResponseSpec {
  status: number;
  description: string;
  /** Defaults to application/json. */
  contentType?: string;
  schema?: z.ZodType;
}

export interface HandlerCtx<P, Q, B> {
  req: Request;
  res: Response;
  params: P;
  query: Q;
  body: B;
  key: ApiKeyRecord | null;
  file: Express.Multer.File | undefined;
}

export interface RouteDef<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  /** OpenAPI operationId; unique. */
  id: string;
  method: Method;
  /** Express-style path (`/v1/cameras/:id`). */
  path: string;
  access: Access;
  summary: string;
  description?: string;
  tag: string;
  params?: P;
  query?: Q;
  /** JSON body, or for upload routes the multipart text fields. */
  body?: B;
  upload?: UploadSpec;
  /** First entry is the success response. Default: 200 JSON. */
  responses?: ResponseSpec[];
  /**
   * A configuration change: the audit log records who, the target and its public state before and
   * after. `target` names what changes; `snapshot` reads its public (redacted) state.
   */
  audit?: {
    target(ctx: { params: z.output<P>; body: z.output<B> }): string;
    snapshot(target: string): Promise<unknown>;
    /** The after-state from the handler's result instead of a second snapshot (e.g. a new key, minus its secret). */
    after?(result: unknown): unknown;
  };
  /**
   * Returns the JSON body of the success response, or undefined after writing the response itself
   * (images, 204s).
   */
  handler(ctx: HandlerCtx<z.output<P>, z.output<Q>, z.output<B>>): Promise<unknown>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRoute = RouteDef<any, any, any>;

/* eslint-disable @typescript-eslint/no-empty-object-type -- z.ZodObject<{}> is zod's type of an object schema with no keys */
export function defineRoute<
  P extends z.ZodType = z.ZodObject<{}>,
  Q extends z.ZodType = z.ZodObject<{}>,
  B extends z.ZodType = z.ZodUnknown,
>(def: RouteDef<P, Q, B>): AnyRoute {
  /* eslint-enable @typescript-eslint/no-empty-object-type */
  return def as AnyRoute;
}

/** Largest page any list route returns; a bigger `limit` is a 400 that says so. */
export const MAX_PAGE_SIZE = 500;

export function pageLimit(defaultSize: number) {
  return z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_SIZE, { message: `limit must be at most ${MAX_PAGE_SIZE} (the maximum page size)` })
    .default(defaultSize)
    .describe(`page size, 1–${MAX_PAGE_SIZE}`);
}

/** A time query parameter: epoch ms or an ISO 8601 date-time (every route that takes a time). */
export const instant = z
  .string()
  .min(1)
  .transform((s, ctx) => {
    const n = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
    if (!Number.isFinite(n)) {
      ctx.addIssue({ code: 'custom', message: `not a time: "${s}" (epoch ms or ISO 8601)` });
      return z.NEVER;
    }
    return n;
  })
  .describe('epoch milliseconds or ISO 8601 date-time');

export interface MountHooks {
  /** Authenticates and authorises; sets res.locals.key. */
  auth(access: Access): RequestHandler;
  /** Multipart parser for an upload route. */
  upload(spec: UploadSpec): RequestHandler;
  /** Records a configuration change (routes with `audit`). */
  audit?(req: Request, res: Response, entry: { action: string; target: string; before: unknown; after: unknown }): Promise<void>;
}

function successStatus(r: AnyRoute): number {
  return r.responses?.[0]?.status ?? 200;
}

/** Mounts every route on the router, in registry order. Duplicate method+path is a programming error. */
export function mountRoutes(router: Router, routes: readonly AnyRoute[], hooks: MountHooks): void {
  const seen = new Set<string>();
  for (const r of routes) {
    const sig = `${r.method} ${r.path}`;
    if (seen.has(sig)) throw new Error(`route registered twice: ${sig}`);
    seen.add(sig);
    const chain: RequestHandler[] = [hooks.auth(r.access)];
    if (r.upload) chain.push(hooks.upload(r.upload));
    chain.push(async (req: Request, res: Response, next: NextFunction) => {
      try {
        const parse = <S extends z.ZodType>(schema: S | undefined, value: unknown, where: 'params' | 'query' | 'body' | 'form') => {
          if (!schema) return value;
          const out = schema.safeParse(value ?? {});
          if (!out.success) throw validationError(where, out.error);
          return out.data;
        };
        // An upload route without its file fails on the file, not on whatever form field is missing.
        if (r.upload && !req.file)
          throw new ApiError(
            400,
            'VALIDATION_FAILED',
            `multipart/form-data field "${r.upload.field}" with the file is required`,
            r.upload.field,
          );
        const params = parse(r.params, req.params, 'params');
        const query = parse(r.query, req.query, 'query');
        const body = parse(r.body, req.body, r.upload ? 'form' : 'body');
        const target = r.audit && hooks.audit ? r.audit.target({ params, body }) : null;
        const before = target !== null ? await r.audit!.snapshot(target) : null;
        const result = await r.handler({
          req,
          res,
          params,
          query,
          body,
          key: (res.locals.key as ApiKeyRecord | undefined) ?? null,
          file: req.file,
        });
        // Only a change that happened is recorded (a refused request threw above).
        if (target !== null)
          await hooks.audit!(req, res, {
            action: r.id,
            target,
            before,
            after: r.audit!.after ? r.audit!.after(result) : await r.audit!.snapshot(target),
          });
        if (res.headersSent) return;
        const status = successStatus(r);
        if (status === 204 || result === undefined) res.status(status).end();
        else res.status(status).json(result);
      } catch (err) {
        next(err);
      }
    });
    router[r.method](r.path, ...chain);
  }
}

/** `/v1/cameras/:id` → `/v1/cameras/{id}` */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

type JsonSchema = Record<string, unknown> & { properties?: Record<string, JsonSchema>; required?: string[] };

export function jsonSchema(schema: z.ZodType): JsonSchema {
  // io: 'input' documents what a client sends (defaults optional); transforms/refinements are not
  // representable in JSON Schema and are enforced by the server only.
  const s = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'openapi-3.0' }) as JsonSchema;
  delete s.$schema;
  return s;
}

const errorSchema: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'requestId'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' }, requestId: { type: 'string' } },
    },
  },
};

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

/** The OpenAPI 3.0 document of a route list. */
export function openApiDocument(routes: readonly AnyRoute[], info: OpenApiInfo): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const parameters: unknown[] = [];
    for (const [where, schema] of [
      ['path', r.params],
      ['query', r.query],
    ] as const) {
      if (!schema) continue;
      const js = jsonSchema(schema);
      for (const [name, prop] of Object.entries(js.properties ?? {})) {
        parameters.push({
          name,
          in: where,
          required: where === 'path' || (js.required ?? []).includes(name),
          schema: prop,
          ...(prop.description ? { description: prop.description } : {}),
        });
      }
    }
    const op: Record<string, unknown> = {
      operationId: r.id,
      summary: r.summary,
      tags: [r.tag],
      'x-roles': r.access === 'public' ? [] : [...r.access],
    };
    if (r.description) op.description = r.description;
    if (parameters.length) op.parameters = parameters;
    if (r.access === 'public') op.security = [];
    if (r.upload) {
      const fields = r.body ? jsonSchema(r.body) : { type: 'object', properties: {} };
      op.requestBody = {
        required: true,
        content: {
          'multipart/form-data': {
            schema: {
              ...fields,
              properties: {
                ...(fields.properties ?? {}),
                [r.upload.field]: { type: 'string', format: 'binary', description: r.upload.description },
              },
              required: [...((fields.required as string[] | undefined) ?? []), r.upload.field],
            },
          },
        },
      };
    } else if (r.body) {
      op.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(r.body) } } };
    }
    const responses: Record<string, unknown> = {};
    for (const resp of r.responses ?? [{ status: 200, description: 'OK' }]) {
      const ct = resp.contentType ?? 'application/json';
      responses[String(resp.status)] =
        resp.status === 204
          ? { description: resp.description }
          : {
              description: resp.description,
              content: {
                [ct]: {
                  schema: resp.schema
                    ? jsonSchema(resp.schema)
                    : ct === 'application/json'
                      ? { type: 'object' }
                      : { type: 'string', format: 'binary' },
                },
              },
            };
    }
    const err = (d: string) => ({ description: d, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });
    if (r.params || r.query || r.body || r.upload) responses['400'] = err('Invalid input; `field` names the offending field');
    if (r.access !== 'public') {
      responses['401'] = err('Missing or unknown API key');
      responses['403'] = err(`Key role not allowed (allowed: ${(r.access as readonly Role[]).join(', ')})`);
      responses['429'] = err('Request rate limit of this key exceeded (API_RATE_LIMIT); Retry-After says when to retry');
      if (r.body) responses['413'] ??= err('Request body larger than the limit');
      // The key check reads PostgreSQL: while it is unreachable every keyed route says so.
      responses['503'] ??= err('The database is unreachable (`DATABASE_UNAVAILABLE`); retry later');
    }
    if (r.params) responses['404'] = err('Not found');
    op.responses = responses;
    const p = openApiPath(r.path);
    (paths[p] ??= {})[r.method] = op;
  }
  return {
    openapi: '3.0.3',
    info,
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }],
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: 'API key (also accepted as X-API-Key). Roles: admin, operator, platform, tester.',
        },
      },
      schemas: { Error: errorSchema },
    },
    paths,
  };
}

export function requireRole(access: Access, key: ApiKeyRecord | null): void {
  if (access === 'public') return;
  if (!key) throw new ApiError(401, 'UNAUTHENTICATED', 'missing or unknown API key (send Authorization: Bearer <key>)');
  if (!access.includes(key.role))
    throw new ApiError(403, 'FORBIDDEN', `role "${key.role}" may not call this route (allowed: ${access.join(', ')})`);
}
