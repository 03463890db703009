// The express application: request ids and logs, JSON parsing, the route registry (auth, validation,
// handlers, OpenAPI) and one error shape for everything that goes wrong.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import express, { type Application, type Request, type RequestHandler } from 'express';
import multer from 'multer';
import { pinoHttp } from 'pino-http';
import { ApiKeyStore, presentedKey, type ApiKeyRecord } from './auth.js';
import { RedisAuditStore } from './audit.js';
import { DEFAULT_RATE_LIMIT, RateLimiter } from './rate-limit.js';
import { auditRoutes } from './routes/audit.js';
import { consoleRouter } from './console-static.js';
import type { ApiDeps } from './deps.js';
import { ApiError, errorBody, errorHandler } from './errors.js';
import { mountRoutes, requireRole, type Access, type AnyRoute, type UploadSpec } from './registry.js';
import { cameraRoutes } from './routes/cameras.js';
import { caseRoutes } from './routes/cases.js';
import { consoleRoutes } from './routes/console.js';
import { replayRoutes } from './routes/replays.js';
import { systemRoutes } from './routes/system.js';

export type { ApiDeps } from './deps.js';

export const DEFAULT_MAX_UPLOAD_BYTES = 512 * 1024 * 1024;
/** JSON bodies are configs and status updates; anything bigger is a mistake or an attack. */
export const JSON_LIMIT = '1mb';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Every route of the API, in mount order (also what the OpenAPI document and the auth tests iterate). */
export function buildRoutes(deps: ApiDeps, keys: ApiKeyStore): AnyRoute[] {
  const routes: AnyRoute[] = [];
  routes.push(
    ...systemRoutes(deps, keys, () => routes),
    ...cameraRoutes(deps),
    ...caseRoutes(deps),
    ...replayRoutes(deps),
    ...auditRoutes(deps),
    ...consoleRoutes(deps, () => routes),
  );
  return routes;
}

export interface ApiApplication extends Application {
  /** The registry the app was built from. */
  routes: readonly AnyRoute[];
  keys: ApiKeyStore;
}

export function createApp(deps: ApiDeps): ApiApplication {
  const keys = deps.keys ?? new ApiKeyStore(deps.cases.db);
  deps.audit ??= new RedisAuditStore(deps.redis, deps.prefix);
  const audit = deps.audit;
  const rateOpts = deps.rateLimit === undefined ? DEFAULT_RATE_LIMIT : deps.rateLimit;
  const limiter = rateOpts ? new RateLimiter(deps.redis, deps.prefix ?? 'cw', rateOpts) : null;
  const routes = buildRoutes(deps, keys);
  mkdirSync(deps.uploadDir, { recursive: true });
  const app = express() as unknown as ApiApplication;
  app.routes = routes;
  app.keys = keys;
  app.disable('x-powered-by');
  app.set('trust proxy', false);

  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      // Keys and stream URLs must never reach the logs.
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({
          id: req.id,
          method: req.method,
          path: String(req.url).split('?')[0],
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      customProps: (_req, res) => {
        const key = (res as unknown as { locals?: { key?: ApiKeyRecord } }).locals?.key;
        return key ? { keyId: key.id, role: key.role } : {};
      },
    }),
  );
  app.use(express.json({ limit: JSON_LIMIT, strict: true }));

  const upload = multer({
    storage: multer.diskStorage({
      destination: deps.uploadDir,
      // Never the client's name: it could contain path tricks; the extension is irrelevant (ffprobe decides).
      filename: (_req, _file, cb) => cb(null, `upload-${Date.now()}-${randomBytes(8).toString('hex')}`),
    }),
    limits: { fileSize: deps.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES, files: 1, fields: 10, fieldSize: 1024 * 1024, parts: 12 },
  });

  const hooks = {
    audit: async (req: Request, res: express.Response, e: { action: string; target: string; before: unknown; after: unknown }) => {
      const key = res.locals.key as ApiKeyRecord | null | undefined;
      await audit.append({
        at: Date.now(),
        keyId: key?.id ?? null,
        keyName: key?.name ?? null,
        role: key?.role ?? null,
        action: e.action,
        method: req.method,
        path: req.path,
        target: e.target,
        before: e.before,
        after: e.after,
        requestId: typeof req.id === 'string' ? req.id : null,
      });
    },
    auth:
      (access: Access): RequestHandler =>
      async (req, res, next) => {
        try {
          const k = presentedKey(req.headers);
          const rec = access === 'public' || !k ? null : await keys.lookup(k);
          // Limited per key, so one noisy integration cannot starve the others; requests without a
          // valid key share a budget per client address (slows key guessing too). Health and
          // metrics probes (public routes) are not limited.
          if (limiter && access !== 'public') {
            const subject = rec ? `key:${rec.id}` : `ip:${req.ip ?? 'unknown'}`;
            const d = await limiter.consume(subject);
            if (!d.ok) {
              res.setHeader('Retry-After', String(d.retryAfterSec));
              throw new ApiError(
                429,
                'RATE_LIMITED',
                `more than ${limiter.options.points} requests in ${limiter.options.durationSec} s for this ${rec ? 'key' : 'client'}; retry after ${d.retryAfterSec} s`,
              );
            }
            res.setHeader('RateLimit-Remaining', String(d.remaining));
          }
          requireRole(access, rec);
          res.locals.key = rec;
          next();
        } catch (err) {
          next(err);
        }
      },
    upload: (spec: UploadSpec): RequestHandler => {
      const single = upload.single(spec.field);
      return (req, res, next) => {
        // Whatever happens to the request, an upload nobody took over is deleted when it ends.
        res.on('close', () => {
          const f = (req as Request).file;
          if (f && !res.locals.keepUpload) void rm(f.path, { force: true });
        });
        single(req, res, (err?: unknown) => {
          if (err) {
            // multer removes its partial file on a limit error; make sure, and report.
            const f = (req as Request).file;
            if (f) void rm(f.path, { force: true });
          }
          next(err);
        });
      };
    },
  };

  const router = express.Router({ strict: false, caseSensitive: true });
  mountRoutes(router, routes, hooks);
  app.use(router);
  // The operator console (static files and its client routes); API paths never reach it.
  if (deps.consoleDir !== null) app.use(consoleRouter(deps.consoleDir));
  app.use((req, res) => {
    res.status(404).json(errorBody(req, new ApiError(404, 'NO_ROUTE', `no route ${req.method} ${req.path}`)));
  });
  app.use(errorHandler);
  return app;
}

export function uploadDirFor(dataDir: string): string {
  return path.join(dataDir, 'uploads');
}
