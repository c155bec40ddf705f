#!/usr/bin/env node
// backupctl: loads the TypeScript entry through tsx's loader (the workspace has no build step).
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
