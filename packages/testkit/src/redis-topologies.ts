import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort } from './redis-server.js';
import { runProcess } from './process.js';

/** Several redis-server processes on loopback that together serve one `redis+...://` URL. */
export interface RedisTopologyServer {
  /** `redis+cluster://...` or `redis+sentinel://.../<name>`. */
  url: string;
  /** Ports of the data nodes (cluster masters, or Sentinel's primary then replica). */
  dataPorts: number[];
  dispose(): Promise<void>;
}

export interface SentinelServer extends RedisTopologyServer {
  name: string;
  sentinelPorts: number[];
  /** Port of the current primary, as the sentinels see it. */
  primaryPort(): Promise<number>;
  /** `SENTINEL FAILOVER`, then wait until the sentinels name another primary. */
  failover(timeoutMs?: number): Promise<number>;
}

const BASE = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'];

async function waitForPing(port: number, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined);
    try {
      await c.connect();
      if ((await c.ping()) === 'PONG') return;
    } catch {
      // not up yet
    } finally {
      c.disconnect();
    }
    await sleep(50);
  }
  throw new Error(`redis on port ${port} did not start`);
}

function spawnRedis(args: string[]): ChildProcess {
  const p = spawn('redis-server', args, { stdio: 'ignore' });
  p.on('error', () => undefined);
  return p;
}

async function killAll(procs: ChildProcess[], dir: string): Promise<void> {
  await Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((res) => {
          if (p.exitCode !== null || p.signalCode !== null) return res();
          p.once('exit', () => res());
          p.kill('SIGKILL');
        }),
    ),
  );
  await rm(dir, { recursive: true, force: true });
}

/** A Redis Cluster of `masters` masters (no replicas), created with `redis-cli --cluster create`. */
export async function startRedisCluster(masters = 3): Promise<RedisTopologyServer> {
  const dir = await mkdtemp(join(tmpdir(), 'mfb-rcluster-'));
  const ports: number[] = [];
  for (let i = 0; i < masters; i++) ports.push(await freePort());
  const procs = ports.map((port) =>
    spawnRedis(['--port', String(port), ...BASE, '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--dir', dir, '--cluster-node-timeout', '2000']),
  );
  try {
    await Promise.all(ports.map((p) => waitForPing(p)));
    const created = await runProcess('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
      cwd: dir,
      env: { PATH: '/usr/local/bin:/usr/bin:/bin' },
    });
    if (created.code !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    // Wait until every node reports the cluster ok (slots propagated by gossip).
    for (const port of ports) {
      const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
      try {
        for (let i = 0; i < 200 && !/cluster_state:ok/.test(String(await c.call('CLUSTER', 'INFO'))); i++) await sleep(50);
      } finally {
        c.disconnect();
      }
    }
  } catch (err) {
    await killAll(procs, dir);
    throw err;
  }
  return { url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`, dataPorts: ports, dispose: () => killAll(procs, dir) };
}

/**
 * A primary, a replica and three sentinels (quorum 2) watching them as `name`; fast failure
 * detection (1 s) so a test can fail over in a few seconds.
 */
export async function startRedisSentinel(name = 'mfbprimary'): Promise<SentinelServer> {
  const dir = await mkdtemp(join(tmpdir(), 'mfb-rsentinel-'));
  const [primary, replica, ...sentinels] = await Promise.all([0, 1, 2, 3, 4].map(() => freePort())) as [number, number, number, number, number];
  const procs: ChildProcess[] = [];
  try {
    // No 5 s wait for more replicas before the first sync (Redis 7's default diskless delay).
    const sync = ['--repl-diskless-sync-delay', '0'];
    procs.push(spawnRedis(['--port', String(primary), ...BASE, ...sync, '--dir', dir]));
    procs.push(spawnRedis(['--port', String(replica), ...BASE, ...sync, '--dir', dir, '--replicaof', '127.0.0.1', String(primary)]));
    await Promise.all([waitForPing(primary), waitForPing(replica)]);
    // A replica still in its first sync holds no data: a failover to it would lose everything.
    const r = new Redis({ port: replica, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    try {
      for (let i = 0; i < 200 && !/master_link_status:up/.test(await r.info('replication')); i++) await sleep(50);
    } finally {
      r.disconnect();
    }
    for (const port of sentinels) {
      const conf = join(dir, `sentinel-${port}.conf`);
      await writeFile(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${primary} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 5000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      procs.push(spawnRedis([conf, '--sentinel']));
    }
    await Promise.all(sentinels.map((p) => waitForPing(p)));
    // Sentinels find the replica and each other through the primary; wait until one knows both.
    const s = new Redis({ port: sentinels[0], host: '127.0.0.1', maxRetriesPerRequest: 0 });
    try {
      for (let i = 0; i < 200; i++) {
        const replicas = (await s.call('SENTINEL', 'REPLICAS', name)) as unknown[];
        const others = (await s.call('SENTINEL', 'SENTINELS', name)) as unknown[];
        if (replicas.length >= 1 && others.length >= 2) break;
        await sleep(100);
      }
    } finally {
      s.disconnect();
    }
  } catch (err) {
    await killAll(procs, dir);
    throw err;
  }
  const ask = async (): Promise<number> => {
    const s = new Redis({ port: sentinels[0], host: '127.0.0.1', maxRetriesPerRequest: 0 });
    try {
      const addr = (await s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as [string, string];
      return Number(addr[1]);
    } finally {
      s.disconnect();
    }
  };
  return {
    url: `redis+sentinel://${sentinels.map((p) => `127.0.0.1:${p}`).join(',')}/${name}`,
    name,
    dataPorts: [primary, replica],
    sentinelPorts: sentinels,
    primaryPort: ask,
    async failover(timeoutMs = 30_000) {
      const before = await ask();
      const s = new Redis({ port: sentinels[0], host: '127.0.0.1', maxRetriesPerRequest: 0 });
      try {
        const end = Date.now() + timeoutMs;
        // A sentinel refuses FAILOVER while it has no good replica yet (just started); retry.
        for (;;) {
          try {
            await s.call('SENTINEL', 'FAILOVER', name);
            break;
          } catch (err) {
            if (Date.now() > end) throw err;
            await sleep(200);
          }
        }
        while (Date.now() < end) {
          const now = await ask();
          if (now !== before) return now;
          await sleep(100);
        }
        throw new Error(`sentinel did not fail over within ${timeoutMs} ms`);
      } finally {
        s.disconnect();
      }
    },
    dispose: () => killAll(procs, dir),
  };
}
