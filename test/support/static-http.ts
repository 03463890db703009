import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/** A minimal static file server on 127.0.0.1 for HLS tests (only serves files under root). */
export async function serveDir(root: string): Promise<{ base: string; close(): Promise<void> }> {
  const server: Server = createServer(async (req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = path.join(root, path.normalize(rel));
    if (!file.startsWith(root)) return void res.writeHead(403).end();
    const st = await stat(file).catch(() => null);
    if (!st?.isFile()) return void res.writeHead(404).end();
    const type = file.endsWith('.m3u8')
      ? 'application/vnd.apple.mpegurl'
      : file.endsWith('.ts')
        ? 'video/mp2t'
        : 'application/octet-stream';
    res.writeHead(200, { 'content-type': type, 'content-length': st.size });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
