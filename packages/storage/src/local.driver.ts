import { createHash, randomBytes } from 'node:crypto';
import type { Hash } from 'node:crypto';
import type { Dirent, Stats } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { addAbortSignal, Writable } from 'node:stream';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ListPage, ObjectInfo, PutOptions, StorageCapabilities, StorageDriver } from './driver.js';
import {
  StorageAbortedError,
  StorageChecksumMismatchError,
  StorageInvalidOptionsError,
  StorageInvalidUrlError,
  StorageNotFoundError,
  mapFsError,
} from './errors.js';
import { fsyncDir } from './fsync.js';
import { TEMP_PREFIX, compareKeys, decodeKeyCursor, encodeKeyCursor, validateKey, validatePrefix } from './keys.js';
import { checkSha256Option } from './options.js';

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const DEFAULT_LIST_LIMIT = 1000;
const MAX_LIST_LIMIT = 1000;
const TEMP_RE = new RegExp(`^${TEMP_PREFIX.replace(/[.]/g, '\\.')}[0-9a-f]{16}-(.+)$`);
const CURSOR_VERSION = 'v1:';

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

async function writeFully(fh: FileHandle, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    off += bytesWritten;
  }
}

/**
 * A Writable over an open FileHandle that leaves the handle open (the caller fsyncs and closes
 * it), feeding what it wrote to `hash` when given.
 */
function fileSink(fh: FileHandle, onProgress: ((bytesDone: number) => void) | undefined, hash: Hash | undefined): Writable {
  let done = 0;
  const advance = (buf: Buffer): void => {
    hash?.update(buf);
    done += buf.length;
    onProgress?.(done);
  };
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      writeFully(fh, chunk).then(() => {
        advance(chunk);
        cb();
      }, cb);
    },
    writev(chunks, cb) {
      const buf = Buffer.concat(chunks.map((c) => c.chunk as Buffer));
      writeFully(fh, buf).then(() => {
        advance(buf);
        cb();
      }, cb);
    },
  });
}

/**
 * Resolve a `file:` URL to an absolute directory.
 *
 * - `file:///abs/path` (or `file://localhost/abs/path`): absolute; `%xx` escapes are decoded.
 * - `file://./rel/path`, `file://../rel/path`: relative to `cwd` (default `process.cwd()`),
 *   resolved once, when the driver is opened.
 * - Any other host (`file://server/share`), a query or a fragment: STORAGE_INVALID_URL.
 */
export function fileUrlToRoot(url: string, cwd: string = process.cwd()): string {
  if (!/^file:\/\//i.test(url)) throw new StorageInvalidUrlError(url, 'expected file://');
  const rest = url.slice('file://'.length);
  url = 'file://' + rest;
  if (rest.includes('?') || rest.includes('#')) throw new StorageInvalidUrlError(url, 'query and fragment are not supported');
  if (rest === '.' || rest === '..' || rest.startsWith('./') || rest.startsWith('../')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(rest);
    } catch {
      throw new StorageInvalidUrlError(url, 'bad percent-encoding');
    }
    return path.resolve(cwd, decoded);
  }
  if (!rest.startsWith('/') && !rest.startsWith('localhost/')) {
    throw new StorageInvalidUrlError(url, 'use file:///absolute/path or file://./relative/path');
  }
  let root: string;
  try {
    root = fileURLToPath(url);
  } catch (err) {
    throw new StorageInvalidUrlError(url, (err as Error).message);
  }
  return path.resolve(root);
}

/**
 * Storage on a local (or mounted: NAS, NFS, SMB) filesystem under one root directory.
 * Key `a/b/c` is the file `<root>/a/b/c`.
 *
 * - `put` streams into `<dir>/.mfb-tmp-<16 hex>-<name>` (0600) in the destination directory,
 *   fsyncs it, renames it over the key and fsyncs the directory. Readers see the old object or
 *   the complete new one, never a partial file. Temp names are invisible to `list`/`head`/`get`
 *   (keys may not contain a segment starting with `.mfb-tmp-`), and `cleanupIncomplete` removes
 *   the ones a killed writer left.
 * - Directories the driver creates are 0700 (and fsynced into their parent); existing
 *   directories, including the root, keep their mode.
 * - `delete` removes the file only; empty directories stay (removing them would race with a
 *   concurrent `put` into the same directory).
 * - A key cannot be both an object and a "directory" (`a` and `a/b`): STORAGE_KEY_CONFLICT.
 */
export class LocalStorageDriver implements StorageDriver {
  readonly url: string;
  readonly capabilities: StorageCapabilities = { storageClasses: [] };
  /** Absolute root directory. */
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.url = pathToFileURL(this.root).href;
  }

  /** Open from a `file:` URL (see {@link fileUrlToRoot} for the accepted forms). */
  static fromUrl(url: string, opts: { cwd?: string; options?: Readonly<Record<string, unknown>> } = {}): LocalStorageDriver {
    const driver = new LocalStorageDriver(fileUrlToRoot(url, opts.cwd));
    const names = Object.keys(opts.options ?? {});
    if (names.length > 0) {
      throw new StorageInvalidOptionsError(driver.url, `unknown option ${JSON.stringify(names[0])} (file:// takes no options)`, { option: names[0] });
    }
    return driver;
  }

  private pathOf(key: string): string {
    return path.join(this.root, ...key.split('/'));
  }

  private async ensureDir(dir: string): Promise<void> {
    const first = await mkdir(dir, { recursive: true, mode: DIR_MODE });
    if (first === undefined) return;
    // Make every new directory entry durable: fsync the parent of each directory we created.
    let d = dir;
    const created: string[] = [];
    while (d.length >= first.length) {
      created.push(d);
      const parent = path.dirname(d);
      if (parent === d) break;
      d = parent;
    }
    for (const c of created) await fsyncDir(path.dirname(c));
  }

  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<ObjectInfo> {
    validateKey(key);
    const op = `put ${key} to ${this.url}`;
    const { signal, onProgress, sha256 } = opts;
    checkSha256Option(sha256);
    if (signal?.aborted) {
      body.destroy();
      throw new StorageAbortedError(op, signal.reason);
    }
    const file = this.pathOf(key);
    const dir = path.dirname(file);
    const tmp = path.join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}-${path.basename(file)}`);
    let fh: FileHandle | undefined;
    let tmpCreated = false;
    try {
      await this.ensureDir(dir);
      fh = await open(tmp, 'wx', FILE_MODE);
      tmpCreated = true;
      const hash = sha256 !== undefined ? createHash('sha256') : undefined;
      await pipeline(body, fileSink(fh, onProgress, hash), ...(signal ? [{ signal }] : []));
      if (hash) {
        const actual = hash.digest('hex');
        if (actual !== sha256) throw new StorageChecksumMismatchError(key, this.url, sha256!, actual);
      }
      await fh.sync();
      // Stat the handle, not the path: a concurrent delete of `key` right after the rename
      // (a prune racing a pin-marker write) must not turn a completed put into an error.
      const st = await fh.stat();
      await fh.close();
      fh = undefined;
      await rename(tmp, file);
      tmpCreated = false;
      await fsyncDir(dir);
      return { key, size: st.size, lastModified: st.mtime };
    } catch (err) {
      // Best effort: the primary error is what the caller needs; a temp file we could not
      // remove is invisible to readers and is reclaimed by cleanupIncomplete().
      if (fh) await fh.close().catch(() => undefined);
      if (tmpCreated) await unlink(tmp).catch(() => undefined);
      if (!body.destroyed) body.destroy();
      if (signal?.aborted) throw new StorageAbortedError(op, signal.reason);
      throw mapFsError(op, err, key);
    }
  }

  async get(key: string, opts: { signal?: AbortSignal } = {}): Promise<Readable> {
    validateKey(key);
    const op = `get ${key} from ${this.url}`;
    if (opts.signal?.aborted) throw new StorageAbortedError(op, opts.signal.reason);
    let fh: FileHandle;
    try {
      fh = await open(this.pathOf(key), 'r');
    } catch (err) {
      if (isMissing(err)) throw new StorageNotFoundError(key, this.url);
      throw mapFsError(op, err);
    }
    let st: Stats;
    try {
      st = await fh.stat();
    } catch (err) {
      await fh.close();
      throw mapFsError(op, err);
    }
    if (!st.isFile()) {
      await fh.close();
      throw new StorageNotFoundError(key, this.url);
    }
    const rs = fh.createReadStream({ highWaterMark: 1 << 20 });
    if (opts.signal) addAbortSignal(opts.signal, rs);
    return rs;
  }

  async head(key: string): Promise<ObjectInfo | null> {
    validateKey(key);
    try {
      const st = await stat(this.pathOf(key));
      if (!st.isFile()) return null;
      return { key, size: st.size, lastModified: st.mtime };
    } catch (err) {
      if (isMissing(err)) return null;
      throw mapFsError(`head ${key} in ${this.url}`, err);
    }
  }

  /**
   * Walk the tree below the directory part of `prefix`, calling `visit` for each regular file
   * (or symlink to one; symlinked directories are not followed) whose key could start with
   * `prefix`, in no particular order (cleanupIncomplete needs every temp file, not an order).
   */
  private async walk(
    prefix: string,
    visit: (key: string, name: string, dirKey: string) => void,
  ): Promise<void> {
    const slash = prefix.lastIndexOf('/');
    const startKey = slash >= 0 ? prefix.slice(0, slash) : '';
    const stack = [startKey];
    while (stack.length > 0) {
      const dirKey = stack.pop()!;
      const dirPath = dirKey === '' ? this.root : this.pathOf(dirKey);
      let entries: Dirent[];
      try {
        entries = await readdir(dirPath, { withFileTypes: true });
      } catch (err) {
        if (isMissing(err)) continue;
        throw mapFsError(`list ${prefix} in ${this.url}`, err);
      }
      for (const ent of entries) {
        const key = dirKey === '' ? ent.name : `${dirKey}/${ent.name}`;
        let isDir = ent.isDirectory();
        let isFile = ent.isFile();
        if (ent.isSymbolicLink()) {
          try {
            isFile = (await stat(path.join(dirPath, ent.name))).isFile();
          } catch (err) {
            if (!isMissing(err)) throw mapFsError(`list ${prefix} in ${this.url}`, err);
          }
          isDir = false;
        }
        if (isDir) {
          const sub = key + '/';
          if (sub.startsWith(prefix) || prefix.startsWith(sub)) stack.push(key);
        } else if (isFile) {
          visit(key, ent.name, dirKey);
        }
      }
    }
  }

  /**
   * Candidate keys under `prefix` strictly after `after`, in key order, lazily: each directory
   * is read and its entries sorted by the key range they cover (`name` for a file, `name/`
   * for a directory: every key below a directory shares that prefix, so this is key order).
   * Subtrees entirely at or before the cursor, or outside the prefix, are never read, so a
   * page costs the directories on the path to the cursor plus the keys it returns.
   */
  private async *keysAfter(prefix: string, after: string | undefined, dirKey: string): AsyncGenerator<string> {
    const dirPath = dirKey === '' ? this.root : this.pathOf(dirKey);
    let dirents: Dirent[];
    try {
      dirents = await readdir(dirPath, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return;
      throw mapFsError(`list ${prefix} in ${this.url}`, err);
    }
    const entries: Array<{ key: string; range: string; dir: boolean }> = [];
    for (const ent of dirents) {
      if (ent.name.startsWith(TEMP_PREFIX)) continue;
      const key = dirKey === '' ? ent.name : `${dirKey}/${ent.name}`;
      let dir = ent.isDirectory();
      let file = ent.isFile();
      if (ent.isSymbolicLink()) {
        // Symlinks to files are objects; symlinked directories are not followed.
        dir = false;
        try {
          file = (await stat(path.join(dirPath, ent.name))).isFile();
        } catch (err) {
          if (!isMissing(err)) throw mapFsError(`list ${prefix} in ${this.url}`, err);
        }
      }
      if (dir) {
        const range = key + '/';
        if (!(range.startsWith(prefix) || prefix.startsWith(range))) continue;
        if (after !== undefined && compareKeys(range, after) < 0 && !after.startsWith(range)) continue;
        entries.push({ key, range, dir });
      } else if (file) {
        if (!key.startsWith(prefix)) continue;
        if (after !== undefined && compareKeys(key, after) <= 0) continue;
        entries.push({ key, range: key, dir });
      }
    }
    entries.sort((a, b) => compareKeys(a.range, b.range));
    for (const e of entries) {
      if (e.dir) yield* this.keysAfter(prefix, after, e.key);
      else yield e.key;
    }
  }

  async list(prefix: string, opts: { cursor?: string; limit?: number } = {}): Promise<ListPage> {
    validatePrefix(prefix);
    const limit = Math.max(1, Math.min(MAX_LIST_LIMIT, Math.floor(opts.limit ?? DEFAULT_LIST_LIMIT)));
    const after = opts.cursor ? decodeKeyCursor(CURSOR_VERSION, opts.cursor) : undefined;
    const slash = prefix.lastIndexOf('/');
    const items: ObjectInfo[] = [];
    let more = false;
    for await (const key of this.keysAfter(prefix, after, slash >= 0 ? prefix.slice(0, slash) : '')) {
      if (items.length === limit) {
        more = true;
        break;
      }
      try {
        const st = await stat(this.pathOf(key));
        if (st.isFile()) items.push({ key, size: st.size, lastModified: st.mtime });
      } catch (err) {
        // Deleted between readdir and stat: it is simply not part of this listing.
        if (!isMissing(err)) throw mapFsError(`list ${prefix} in ${this.url}`, err);
      }
    }
    const last = items[items.length - 1];
    return more && last ? { items, cursor: encodeKeyCursor(CURSOR_VERSION, last.key) } : { items };
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    try {
      await unlink(this.pathOf(key));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A directory at `key` means there is no object `key`: nothing to delete.
      if (isMissing(err) || code === 'EISDIR') return;
      throw mapFsError(`delete ${key} from ${this.url}`, err);
    }
  }

  async cleanupIncomplete(prefix: string, olderThanMs = 0): Promise<number> {
    validatePrefix(prefix);
    const cutoff = Date.now() - olderThanMs;
    const temps: string[] = [];
    await this.walk(prefix, (key, name, dirKey) => {
      const m = TEMP_RE.exec(name);
      if (!m) return;
      const intended = dirKey === '' ? m[1]! : `${dirKey}/${m[1]!}`;
      if (intended.startsWith(prefix)) temps.push(key);
    });
    let removed = 0;
    for (const t of temps) {
      const file = this.pathOf(t);
      try {
        if (olderThanMs > 0 && (await stat(file)).mtimeMs > cutoff) continue;
        await unlink(file);
        removed++;
      } catch (err) {
        if (!isMissing(err)) throw mapFsError(`cleanup ${t} in ${this.url}`, err);
      }
    }
    return removed;
  }
}
