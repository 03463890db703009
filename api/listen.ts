// Listening errors in words an operator can act on, and a port check cheap enough to run before the
// heavy modules load (`citywatch run` probes first, so a busy port is reported in a second).
import { createServer } from 'node:net';

/** What to tell an operator when the API cannot listen (a busy port is the usual first-run snag). */
export function listenErrorMessage(err: NodeJS.ErrnoException, host: string, port: number): string {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (err.code === 'EADDRINUSE')
    return `port ${port} on ${host} is already in use (another citywatch, or another program): stop it, or set PORT (and HOST) to listen elsewhere, e.g. PORT=8081`;
  if (err.code === 'ERR_SOCKET_BAD_PORT') return `PORT must be a whole number from 0 to 65535`;
  if (err.code === 'EACCES') return `not allowed to listen on ${where} (ports below 1024 need privileges): set PORT to 1024 or above`;
  if (err.code === 'EADDRNOTAVAIL') return `cannot listen on ${where}: HOST is not an address of this machine`;
  return `cannot listen on ${where}: ${err.message}`;
}

/** Throws listenErrorMessage's text when host:port cannot be bound now (port 0 always can). */
export async function assertPortFree(port: number, host: string): Promise<void> {
  if (port === 0) return;
  const srv = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, host, () => resolve());
    });
  } catch (err) {
    throw new Error(listenErrorMessage(err as NodeJS.ErrnoException, host, port), { cause: err });
  }
  await new Promise((r) => srv.close(r));
}
