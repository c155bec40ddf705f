/** Test support shared by the packages' and apps' test suites (never imported by src/). */
export { freePort, ownRedis, type OwnRedis } from './redis-server.js';
export { startRedisCluster, startRedisSentinel, type RedisTopologyServer, type SentinelServer } from './redis-topologies.js';
export { testConfig, type TestConfigOptions, type RawConfig } from './config.js';
export { startS3rver, rawS3Client, writeCredentialsFile, type S3TestServer } from './s3-server.js';
export { startRadosgw, radosgwMissing } from './radosgw.js';
export { startFaultProxy, type FaultProxy, type FaultProxyOptions, type FaultProxyStats } from './fault-proxy.js';
export { startAzurite, startGcsEmulator, AZURITE_ACCOUNT, AZURITE_KEY, type Azurite, type GcsEmulator, type RunningEmulator } from './cloud-emulators.js';
export { tsNode } from './ts-process.js';
export { distNode } from './dist-process.js';
export { runProcess, type ProcessRun } from './process.js';
export { canMountTmpfs, mountTmpfs } from './tmpfs.js';
export { startWebhookReceiver, type ReceivedRequest } from './webhook-receiver.js';
export { ensurePostgres, POSTGRES_URL } from './postgres.js';
