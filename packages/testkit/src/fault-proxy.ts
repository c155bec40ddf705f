import { createServer, connect, type Server, type Socket } from 'node:net';
import { prng } from '@mfb/demo-data';

/** What the proxy may do to a connection, as fractions of connections (0..1). */
export interface FaultProxyOptions {
  /** Where to forward (a loopback server). */
  targetPort: number;
  targetHost?: string;
  /** PRNG seed: the same seed gives the same decision for the n-th connection. */
  seed: number;
  /** Fraction of connections reset (both sides destroyed) after a random number of request bytes. */
  resetRate: number;
  /** Fraction of connections whose request bytes are held back `delayMs` once, mid-stream. */
  delayRate: number;
  /** Fraction of connections with one request-body byte flipped (bit 0x20). */
  corruptRate: number;
  /** Pause of a delayed connection, ms (keep it below the client's timeout). Default 300. */
  delayMs?: number;
  /** At most this many faults in total; later connections pass untouched. Default 50. */
  maxFaults?: number;
}

export interface FaultProxyStats {
  connections: number;
  resets: number;
  delays: number;
  corruptions: number;
}

export interface FaultProxy {
  port: number;
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  readonly stats: FaultProxyStats;
  close(): Promise<void>;
}

/** Only chunks this large are corrupted, and only past their first half: HTTP headers stay intact. */
const MIN_CORRUPT_CHUNK = 32 * 1024;

/**
 * A TCP proxy between a client and a server that damages a deterministic fraction of
 * connections, in the client-to-server direction only (what an upload sends):
 * - reset: after 1 KiB..1 MiB of request bytes, both sockets are destroyed mid-request;
 * - delay: once, after some bytes, forwarding pauses `delayMs`;
 * - corrupt: one byte in the second half of a large chunk (a request body, never headers) is
 *   flipped, and the connection carries on as if nothing happened.
 * Faults are bounded by `maxFaults`, so a client that retries always gets through eventually.
 */
export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const rand = prng(opts.seed);
  const delayMs = opts.delayMs ?? 300;
  let budget = opts.maxFaults ?? 50;
  const stats: FaultProxyStats = { connections: 0, resets: 0, delays: 0, corruptions: 0 };
  const sockets = new Set<Socket>();

  const server: Server = createServer((client) => {
    stats.connections++;
    const r = rand();
    const pick = rand();
    let fault: 'reset' | 'delay' | 'corrupt' | undefined;
    if (budget > 0) {
      if (r < opts.resetRate) fault = 'reset';
      else if (r < opts.resetRate + opts.delayRate) fault = 'delay';
      else if (r < opts.resetRate + opts.delayRate + opts.corruptRate) fault = 'corrupt';
      if (fault) budget--;
    }
    const triggerAt = fault === 'reset' ? 1024 + Math.floor(pick * (1 << 20)) : Math.floor(pick * 256 * 1024);
    const upstream = connect(opts.targetPort, opts.targetHost ?? '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    const forget = (): void => {
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', forget);
    upstream.on('close', forget);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    upstream.on('data', (d: Buffer) => {
      if (!client.write(d)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
    upstream.on('end', () => client.end());

    let sent = 0;
    let done = fault === undefined;
    client.on('data', (d: Buffer) => {
      let out = d;
      if (!done && sent + d.length >= triggerAt) {
        if (fault === 'reset') {
          done = true;
          stats.resets++;
          client.resetAndDestroy();
          upstream.destroy();
          return;
        }
        if (fault === 'delay') {
          done = true;
          stats.delays++;
          client.pause();
          setTimeout(() => client.resume(), delayMs);
        } else if (fault === 'corrupt' && d.length >= MIN_CORRUPT_CHUNK) {
          done = true;
          stats.corruptions++;
          out = Buffer.from(d);
          const at = Math.floor(d.length / 2 + pick * (d.length / 2 - 1));
          out[at] = out[at]! ^ 0x20;
        }
      }
      sent += d.length;
      if (!upstream.write(out)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    client.on('end', () => upstream.end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
