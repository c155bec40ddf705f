import { open } from 'node:fs/promises';

/** fsync a file (by path). */
export async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * fsync a directory so that a create, rename or link in it is durable. Filesystems that
 * cannot fsync a directory (EINVAL, EISDIR; EPERM on some network mounts) are skipped, as
 * SQLite and PostgreSQL do: there is nothing more to make durable. Any other error throws.
 */
export async function fsyncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw err;
  } finally {
    await fh?.close();
  }
}
