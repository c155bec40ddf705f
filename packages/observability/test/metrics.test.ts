import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../src/index.js';

describe('createMetrics().render', () => {
  it('leaves out families without samples, and shows a family once it has one', async () => {
    const m = createMetrics();
    expect(await m.render()).toBe('');
    m.lockWaitsTotal.inc({ queue: 'backup' });
    const text = await m.render();
    expect(text).toBe(
      '# HELP mfb_lock_waits_total Jobs delayed because their database was locked by another job\n# TYPE mfb_lock_waits_total counter\nmfb_lock_waits_total{queue="backup"} 1\n',
    );
  });

  it('never serves a stale value from its cache: every change is in the next render', async () => {
    const m = createMetrics();
    for (let i = 1; i <= 3; i++) {
      m.lastBackupSuccess.set({ database: 'a', target: 'local' }, i);
      m.jobsTotal.inc({ queue: 'backup', outcome: 'completed' });
      m.stageDuration.observe({ stage: 'snapshot' }, 0.5);
      const t = await m.render();
      expect(t).toContain(`mfb_last_backup_success_timestamp_seconds{database="a",target="local"} ${i}\n`);
      expect(t).toContain(`mfb_jobs_total{queue="backup",outcome="completed"} ${i}\n`);
      expect(t).toContain(`mfb_stage_duration_seconds_count{stage="snapshot"} ${i}\n`);
    }
    m.consecutiveFailures.inc({ queue: 'backup', database: 'a', target: 'local' });
    m.consecutiveFailures.inc({ queue: 'backup', database: 'a', target: 'local' });
    expect(await m.render()).toContain('mfb_consecutive_failures{queue="backup",database="a",target="local"} 2\n');
    m.consecutiveFailures.remove({ queue: 'backup', database: 'a', target: 'local' });
    expect(await m.render()).not.toContain('mfb_consecutive_failures');
    m.lastBackupSuccess.reset();
    expect(await m.render()).not.toContain('mfb_last_backup_success');
    // startTimer goes through observe
    m.jobDuration.startTimer({ queue: 'verify' })();
    expect(await m.render()).toContain('mfb_job_duration_seconds_count{queue="verify"} 1\n');
  });

  it('reads disk space and queue depths on every scrape; no *_total gauges among the defaults', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mfb-obs-'));
    try {
      const m = createMetrics(undefined, { defaults: true });
      m.setDiskVolumes([{ volume: 'scratch', path: dir }, { volume: 'local', path: join(dir, 'missing') }]);
      let depth = 1;
      m.setQueueDepthCollector(async () => [{ queue: 'backup', state: 'waiting', count: depth }]);
      const first = await m.render();
      expect(first).toMatch(/mfb_disk_free_bytes\{volume="scratch"\} [1-9]\d*\n/);
      expect(first).toMatch(/mfb_disk_size_bytes\{volume="scratch"\} [1-9]\d*\n/);
      // An unreadable volume is left out, not a failed scrape.
      expect(first).not.toContain('volume="local"');
      expect(first).toContain('mfb_queue_depth{queue="backup",state="waiting"} 1\n');
      depth = 7;
      expect(await m.render()).toContain('mfb_queue_depth{queue="backup",state="waiting"} 7\n');
      expect(first).toContain('mfb_process_cpu_seconds_total');
      for (const [, name, type] of first.matchAll(/^# TYPE (\S+) (\S+)$/gm)) expect(name!.endsWith('_total'), `${name} ${type}`).toBe(type === 'counter');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
