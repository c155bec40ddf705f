import type { Handlers } from '../context.js';
import { backupHandler } from './backup.handler.js';
import { pruneHandler } from './prune.handler.js';
import { restoreHandler } from './restore.handler.js';
import { uploadHandler } from './upload.handler.js';
import { verifyHandler } from './verify.handler.js';

/** One handler per job name; a missing or extra name is a compile error. */
export const handlers: Handlers = {
  backup: backupHandler,
  upload: uploadHandler,
  prune: pruneHandler,
  restore: restoreHandler,
  verify: verifyHandler,
};
