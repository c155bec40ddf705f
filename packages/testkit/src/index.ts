/** Test support shared by the packages' and apps' test suites (never imported by src/). */
export { freePort, ownRedis, type OwnRedis } from './redis-server.js';
export { startAzurite, startGcsEmulator, AZURITE_ACCOUNT, AZURITE_KEY, type Azurite, type GcsEmulator, type RunningEmulator } from './cloud-emulators.js';
