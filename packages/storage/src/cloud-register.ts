/**
 * Registers the `gs` and `azblob` schemes (imported by index.ts for its side effect). The
 * driver modules are light: each imports its SDK only when the first request is made.
 */
import { AzureBlobStorageDriver } from './azblob.driver.js';
import { GcsStorageDriver } from './gs.driver.js';
import { registerDriver } from './registry.js';

registerDriver('gs', (url, opts) => GcsStorageDriver.fromUrl(url, opts));
registerDriver('azblob', (url, opts) => AzureBlobStorageDriver.fromUrl(url, opts));
