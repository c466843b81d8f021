import { createServer } from 'node:net';

/** A loopback port free right now, so a test's approval server does not contend for 8787. */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
