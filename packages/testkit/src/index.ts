/** Test support shared by the packages' and apps' test suites (never imported by src/). */
export { freePort, ownRedis, type OwnRedis } from './redis-server.js';
export { testConfig, type TestConfigOptions, type RawConfig } from './config.js';
