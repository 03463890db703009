// Serves the operator console (api/console, built by `npm run build:console` into api/console/dist)
// from the API's own origin: hashed assets with long cache lifetimes, index.html never cached, and
// index.html for client-side routes (a browser navigating to /cases/x). The shell holds no data;
// everything it shows comes from the documented API with the user's key.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Request, type RequestHandler, type Router } from 'express';

export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('./console/dist', import.meta.url));

/** Paths that belong to the API: never answered with the console shell. */
const API_PATHS = /^\/(?:v1(?:\/|$)|healthz$|readyz$|metrics$|openapi\.json$)/;

/** Scripts and styles only from this origin; media and images may be presigned S3 URLs. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob: http: https:",
  "media-src 'self' blob: http: https:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** A browser navigation: GET/HEAD that prefers HTML to JSON, outside the API's own paths. */
export function wantsConsole(req: Pick<Request, 'method' | 'path' | 'accepts'>): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (API_PATHS.test(req.path)) return false;
  return req.accepts(['json', 'html']) === 'html';
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>citywatch console not built</title>
<h1>The operator console has not been built</h1>
<p>This server has no <code>api/console/dist</code>. Run <code>npm run build:console</code> (or <code>npm ci</code>, which runs it) and reload.</p>
<p>控制台尚未构建：请运行 <code>npm run build:console</code> 后刷新。</p>
<p>The HTTP API itself works: see <a href="/openapi.json">/openapi.json</a>.</p>`;

export function consoleRouter(dir: string = DEFAULT_CONSOLE_DIR): Router {
  const router = express.Router();
  const index = path.join(dir, 'index.html');
  const assets = express.static(dir, {
    index: false,
    redirect: false,
    fallthrough: true,
    setHeaders: (res, file) => {
      // Vite names everything under assets/ by content hash: it never changes under that name.
      if (file.startsWith(path.join(dir, 'assets') + path.sep)) res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
      else res.setHeader('Cache-Control', 'no-cache');
    },
  });
  const shell: RequestHandler = (req, res, next) => {
    if (!wantsConsole(req)) return next();
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // Checked per request: a build made after the server started is picked up without a restart.
    if (!existsSync(index)) {
      res.status(503).type('html').send(NOT_BUILT);
      return;
    }
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Frame-Options', 'DENY');
    res.sendFile(index, { headers: { 'Cache-Control': 'no-cache' } }, (err) => err && next(err));
  };
  router.use((req, res, next) => {
    if (API_PATHS.test(req.path) || (req.method !== 'GET' && req.method !== 'HEAD')) return next();
    // index.html by its own name goes through the shell (headers), not the static handler.
    if (req.path === '/index.html') return shell(req, res, next);
    return assets(req, res, next);
  });
  router.use(shell);
  return router;
}
