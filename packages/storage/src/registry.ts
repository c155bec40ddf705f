import type { StorageDriver } from './driver.js';
import { StorageInvalidUrlError, StorageUnsupportedSchemeError } from './errors.js';
import { LocalStorageDriver } from './local.driver.js';

export interface OpenStorageOptions {
  /** Base for relative `file://./x` URLs and bare relative paths. Default `process.cwd()`. */
  cwd?: string;
  /**
   * Driver options (config `targets[].options`), the other way to give what the URL query
   * gives (`s3://b/p?region=eu-west-1`). Each driver validates them when opened: an unknown
   * key, a bad value or a key given in both places is STORAGE_INVALID_OPTIONS.
   */
  options?: Readonly<Record<string, unknown>>;
}

/** Builds a driver for one URL of its scheme. Throws STORAGE_INVALID_URL for a bad URL. */
export type DriverFactory = (url: string, opts: OpenStorageOptions) => StorageDriver;

const drivers = new Map<string, DriverFactory>();

/**
 * Register the driver for a URL scheme (`file`, `s3`, `gs`, `azblob`), lower case, without
 * `:` or `//`. Registering a scheme again replaces its factory (tests use that).
 */
export function registerDriver(scheme: string, factory: DriverFactory): void {
  const s = scheme.toLowerCase().replace(/:(\/\/)?$/, '');
  if (!/^[a-z][a-z0-9+.-]*$/.test(s)) throw new TypeError(`invalid URL scheme: ${scheme}`);
  drivers.set(s, factory);
}

/** Schemes that currently have a driver. */
export function registeredSchemes(): string[] {
  return [...drivers.keys()].sort();
}

const SECRET_PARAM = /(secret|password|passwd|pwd|token|key|sig|signature|credential|sas|auth)/i;

/**
 * A URL safe for logs, errors, metrics and the API: user info (`user:pass@`) removed and the
 * values of query parameters that look like secrets (`*secret*`, `*key*`, `*token*`, `sig`,
 * `X-Amz-Signature`, ...) replaced with `REDACTED`. Strings that are not URLs are returned
 * with every `something@` removed.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url.replace(/[^\s/@]+@/g, '');
  }
  u.username = '';
  u.password = '';
  for (const name of [...u.searchParams.keys()]) {
    if (SECRET_PARAM.test(name)) u.searchParams.set(name, 'REDACTED');
  }
  return u.href;
}

/**
 * Open the storage a URL names, choosing the driver by scheme:
 *
 * - `file:///abs/path`, `file://./rel/path` (relative to `opts.cwd`): {@link LocalStorageDriver}.
 * - A bare path (`/mnt/nas/backups`, `./data/backups`, `../x`) is taken as a local directory.
 * - Any other scheme needs a driver registered with {@link registerDriver};
 *   otherwise STORAGE_UNSUPPORTED_SCHEME.
 *
 * The driver's `url` never contains credentials (see {@link redactUrl}).
 */
export function openStorage(url: string, opts: OpenStorageOptions = {}): StorageDriver {
  if (typeof url !== 'string' || url === '') throw new StorageInvalidUrlError(String(url), 'empty');
  if (url.startsWith('/') || url === '.' || url === '..' || url.startsWith('./') || url.startsWith('../')) {
    return LocalStorageDriver.fromUrl('file://' + encodePath(url), opts);
  }
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  if (!m) throw new StorageInvalidUrlError(redactUrl(url), 'expected <scheme>://...');
  const scheme = m[1]!.toLowerCase();
  const factory = drivers.get(scheme);
  if (!factory) throw new StorageUnsupportedSchemeError(scheme, registeredSchemes());
  return factory(url, opts);
}

/** Percent-encode the characters a file URL cannot hold literally. */
function encodePath(p: string): string {
  return p.replace(/[%?#]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

registerDriver('file', (url, opts) => LocalStorageDriver.fromUrl(url, opts));
