import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let probed: boolean | undefined;

/**
 * Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN): a small filesystem gives
 * a real ENOSPC / EROFS from the kernel, no mock. When it may not, a warning naming `what`
 * is printed, so a skipped test is never silent.
 */
export function canMountTmpfs(what: string): boolean {
  if (probed === undefined) {
    probed = false;
    if (process.getuid?.() === 0) {
      const d = mkdtempSync(join(tmpdir(), 'mfb-mount-probe-'));
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', d], { stdio: 'ignore' });
        execFileSync('umount', [d]);
        probed = true;
      } catch {
        // not permitted here (a container without CAP_SYS_ADMIN)
      } finally {
        rmdirSync(d);
      }
    }
  }
  if (!probed) console.warn(`SKIPPED ${what}: mounting a tmpfs needs root (CAP_SYS_ADMIN)`);
  return probed;
}

/** Mount a tmpfs of `sizeKiB` (mode 0700) on `dir`, created if missing; returns its unmount. */
export function mountTmpfs(dir: string, opts: { sizeKiB?: number; readOnly?: boolean } = {}): () => void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${opts.sizeKiB ?? 1024}k,mode=0700${opts.readOnly ? ',ro' : ''}`, 'tmpfs', dir]);
  return () => execFileSync('umount', ['-l', dir]);
}
