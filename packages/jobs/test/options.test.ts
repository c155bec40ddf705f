import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '@mfb/config';
import { JOB_NAMES, defaultJobOptions } from '../src/index.js';

describe('default job options', () => {
  it('take attempts and backoff from the config defaults users read about (one value, 2000 ms)', () => {
    for (const name of JOB_NAMES) {
      const o = defaultJobOptions(name);
      expect(o.attempts, name).toBe(DEFAULTS.attempts[name]);
      expect(o.backoff, name).toMatchObject({ type: 'exponential', delay: DEFAULTS.backoffMs });
    }
    expect(DEFAULTS.backoffMs).toBe(2000);
  });
});
