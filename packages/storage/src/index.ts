export type { StorageDriver, ObjectInfo, ListPage, PutOptions } from './driver.js';
