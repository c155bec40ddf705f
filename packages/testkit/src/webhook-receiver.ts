import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  path: string;
  body: string;
  contentType: string;
  /** Status the receiver answered. */
  status: number;
}

/**
 * A real HTTP server that records every request. `answer` decides each status (default 200);
 * `hang` keeps requests open without answering (a receiver that is "down" but accepts).
 */
export async function startWebhookReceiver(opts: { answer?: (path: string, nth: number) => number; hang?: boolean } = {}): Promise<{
  url: string;
  received: ReceivedRequest[];
  /** Requests being held open (hang mode). */
  pending(): number;
  delivered(path?: string): Array<ReceivedRequest & { json: Record<string, unknown> | null }>;
  close(): Promise<void>;
}> {
  const received: ReceivedRequest[] = [];
  const perPath = new Map<string, number>();
  const held = new Set<ServerResponse>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const nth = (perPath.get(path) ?? 0) + 1;
      perPath.set(path, nth);
      if (opts.hang) {
        held.add(res);
        received.push({ path, body: Buffer.concat(chunks).toString('utf8'), contentType: String(req.headers['content-type'] ?? ''), status: 0 });
        res.on('close', () => held.delete(res));
        return;
      }
      const status = opts.answer?.(path, nth) ?? 200;
      received.push({ path, body: Buffer.concat(chunks).toString('utf8'), contentType: String(req.headers['content-type'] ?? ''), status });
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    pending: () => held.size,
    delivered: (path) =>
      received
        .filter((r) => r.status >= 200 && r.status < 300 && (path === undefined || r.path === path))
        .map((r) => {
          let json: Record<string, unknown> | null;
          try {
            json = JSON.parse(r.body) as Record<string, unknown>;
          } catch {
            json = null;
          }
          return { ...r, json };
        }),
    close: async () => {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
