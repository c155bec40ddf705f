import type { Config } from '@mfb/config';
import { TargetNotFoundError } from '@mfb/errors';
import { openStorage, openTarget, type StorageDriver } from '@mfb/storage';

/** Primary storage and configured targets, one driver per target for the life of the process. */
export interface Storages {
  /** Primary storage (`config.storageUrl`), target name `local`. */
  readonly primary: StorageDriver;
  /** Storage of a target by name (`local` = primary). @throws TargetNotFoundError (permanent) for unknown names. */
  storageFor(target: string): StorageDriver;
  /**
   * Open the primary storage and every target now (start-up): a bad URL or driver option fails
   * the boot, naming the target, instead of every job that uses it.
   */
  openAll(): void;
}

export interface StoragesOptions {
  /** Wraps every driver when it is opened (tests: throttling). */
  wrap?: (driver: StorageDriver, target: string) => StorageDriver;
  /** Name the configured targets in the TARGET_NOT_FOUND message (for operators). */
  listKnown?: boolean;
}

/** Drivers (the primary one too) are opened on first use and kept: they are cheap to keep and some hold clients. */
export function createStorages(config: Pick<Config, 'storageUrl' | 'targets'>, opts: StoragesOptions = {}): Storages {
  const wrap = opts.wrap ?? ((d: StorageDriver) => d);
  const drivers = new Map<string, StorageDriver>();
  const storageFor = (target: string): StorageDriver => {
    let d = drivers.get(target);
    if (!d) {
      const spec = target === 'local' ? undefined : config.targets.find((t) => t.name === target);
      if (target !== 'local' && spec === undefined) throw new TargetNotFoundError(target, opts.listKnown ? ['local', ...config.targets.map((t) => t.name)] : undefined);
      d = wrap(spec ? openTarget(spec) : openStorage(config.storageUrl), target);
      drivers.set(target, d);
    }
    return d;
  };
  return {
    // Opened on first use like the targets: a process that never touches storage never fails on it.
    get primary() {
      return storageFor('local');
    },
    storageFor,
    openAll() {
      storageFor('local');
      for (const t of config.targets) storageFor(t.name);
    },
  };
}
