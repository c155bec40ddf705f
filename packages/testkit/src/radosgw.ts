import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { freePort } from './redis-server.js';
import { rawS3Client, s3TestServer, stopProcess, waitUntil, type S3TestServer } from './s3-server.js';

const run = promisify(execFile);

/** The Debian binaries a single-node Ceph with radosgw needs (packages ceph-mon, ceph-osd, radosgw). */
const BINARIES = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'monmaptool', 'ceph-authtool', 'ceph'];

/** Why radosgw cannot run here (a missing binary), or undefined when it can. */
export function radosgwMissing(): string | undefined {
  const dirs = ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'];
  const missing = BINARIES.filter((b) => !dirs.some((d) => existsSync(join(d, b))));
  return missing.length ? `missing ${missing.join(', ')} (Debian packages ceph-mon ceph-osd radosgw; run scripts/setup)` : undefined;
}

/**
 * A throwaway single-node Ceph cluster serving S3 through radosgw on a loopback port:
 * 1 mon, 1 memstore OSD (objects live in RAM: no disk, fast), `auth none`, messenger v2
 * in `crc` mode (the default `secure` mode refuses auth none), pools of size 1, and a second
 * storage class (STANDARD_IA) in the default placement so storage classes round-trip. Takes
 * 10-20 s to start on 2 cores. Everything lives in a temp dir removed by `stop()`.
 */
export async function startRadosgw(bucket = 'mfb-test', opts: { memstoreBytes?: number } = {}): Promise<S3TestServer> {
  const missing = radosgwMissing();
  if (missing) throw new Error(`radosgw cannot start: ${missing}`);
  const t0 = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'mfb-ceph-'));
  const [monPort, rgwPort] = [await freePort(), await freePort()];
  const fsid = randomUUID();
  const conf = join(dir, 'ceph.conf');
  const procs: ChildProcess[] = [];
  const ceph = (cmd: string, args: string[], timeout = 60_000): Promise<{ stdout: string }> =>
    run(cmd, ['-c', conf, ...args], { timeout, maxBuffer: 16 << 20 });
  const daemon = (cmd: string, args: string[]): ChildProcess => {
    const p = spawn(cmd, ['-c', conf, ...args, '-f'], { stdio: 'ignore' });
    p.on('error', () => undefined);
    procs.push(p);
    return p;
  };
  const logTail = async (name: string): Promise<string> => {
    try {
      return (await readFile(join(dir, 'log', `${name}.log`), 'utf8')).split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  };
  const stopAll = async (): Promise<void> => {
    for (const p of [...procs].reverse()) await stopProcess(p, 10_000);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await mkdir(join(dir, 'run'));
    await mkdir(join(dir, 'log'));
    await mkdir(join(dir, 'mon'));
    await writeFile(
      conf,
      `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms_bind_msgr1 = false
ms_cluster_mode = crc
ms_service_mode = crc
ms_client_mode = crc
ms_mon_cluster_mode = crc
ms_mon_service_mode = crc
ms_mon_client_mode = crc
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = ${opts.memstoreBytes ?? 2 * 1024 ** 3}
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
log file = ${dir}/log/$name.log
pid file = ${dir}/run/$name.pid
mon data = ${dir}/mon
osd data = ${dir}/osd$id
keyring = ${dir}/keyring
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw dns name = localhost
# Free the space of deleted / overwritten objects within seconds (default: after 2 h), so a
# memstore OSD sized for a benchmark does not fill up.
rgw gc obj min wait = 1
rgw gc processor period = 5
`,
    );
    await run('monmaptool', ['--create', '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, '--fsid', fsid, join(dir, 'monmap')]);
    await run('ceph-authtool', ['--create-keyring', join(dir, 'keyring'), '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await ceph('ceph-mon', ['--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap'), '--keyring', join(dir, 'keyring')]);
    const mon = daemon('ceph-mon', ['-i', 'a']);
    await waitUntil('ceph-mon', mon, 60_000, () => ceph('ceph', ['mon', 'stat'], 5000), () => '');

    const osdUuid = randomUUID();
    const id = (await ceph('ceph', ['osd', 'new', osdUuid])).stdout.trim();
    await mkdir(join(dir, `osd${id}`));
    await ceph('ceph-osd', ['-i', id, '--mkfs', '--osd-uuid', osdUuid]);
    const osd = daemon('ceph-osd', ['-i', id]);
    await waitUntil('ceph-osd', osd, 60_000, async () => {
      const { stdout } = await ceph('ceph', ['osd', 'stat', '-f', 'json'], 5000);
      if ((JSON.parse(stdout) as { num_up_osds: number }).num_up_osds < 1) throw new Error('osd not up yet');
    });

    // A second storage class before radosgw first starts (it reads placement at start).
    const admin = (args: string[]): Promise<{ stdout: string }> => ceph('radosgw-admin', ['-n', 'client.admin', ...args]);
    // user create also creates the default realm-less zone and zonegroup the placement needs.
    const accessKeyId = 'MFB' + randomUUID().replace(/-/g, '').slice(0, 17).toUpperCase();
    const secretAccessKey = randomUUID().replace(/-/g, '') + randomUUID().replace(/-/g, '').slice(0, 8);
    await admin(['user', 'create', '--uid', 'mfb', '--display-name', 'mfb tests', '--access-key', accessKeyId, '--secret-key', secretAccessKey]);

    await admin(['zonegroup', 'placement', 'add', '--rgw-zonegroup', 'default', '--placement-id', 'default-placement', '--storage-class', 'STANDARD_IA']);
    await admin([
      'zone', 'placement', 'add', '--rgw-zone', 'default', '--placement-id', 'default-placement',
      '--storage-class', 'STANDARD_IA', '--data-pool', 'default.rgw.standard-ia.data',
    ]);
    const rgw = daemon('radosgw', ['-n', 'client.rgw']);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await waitUntil('radosgw', rgw, 120_000, () => fetch(endpoint + '/').then((r) => r.ok || Promise.reject(new Error(String(r.status)))));
    const raw = rawS3Client(endpoint, accessKeyId, secretAccessKey);
    await raw.send(new CreateBucketCommand({ Bucket: bucket }));
    const fields = { kind: 'radosgw' as const, endpoint, port: rgwPort, bucket, accessKeyId, secretAccessKey, startupMs: Date.now() - t0 };
    return await s3TestServer(fields, dir, raw, stopAll);
  } catch (err) {
    const logs = `${await logTail('mon.a')}\n${await logTail('osd.0')}\n${await logTail('client.rgw')}`;
    await stopAll();
    throw new Error(`radosgw did not start: ${(err as Error).message}\n${logs}`, { cause: err });
  }
}
