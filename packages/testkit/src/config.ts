import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig, type Config } from '@mfb/config';

/** The config file's content (YAML/JSON shape, as documented in docs/configuration.md). */
export type RawConfig = Record<string, unknown>;

export interface TestConfigOptions {
  /** Everything lives under it: the config file, and `dataDir` unless `settings` says otherwise. */
  dir: string;
  /** What the config file says beyond the test defaults (top-level keys replace the defaults' ones; `redis`, `worker`, `api` and `log` are merged). */
  settings?: RawConfig;
  /** The shared test Redis (callers pass their REDIS_URL; testkit reads no environment). @defaultValue redis://127.0.0.1:6379 */
  redisUrl?: string;
  /** @defaultValue `t-<uuid>`: each test owns its keys in the shared Redis. */
  redisPrefix?: string;
}

/**
 * A config built the way users build theirs: a config file written under `dir` and read by
 * `loadConfig` (validation, defaults, path resolution, frozen result), never a hand-made
 * `Config` object. The environment is not read (`env: {}`), so a developer's MFB_* or
 * REDIS_URL cannot leak into a test; processes started with `file` see the same config.
 */
export async function testConfig(opts: TestConfigOptions): Promise<{ config: Config; file: string; settings: RawConfig }> {
  const s = opts.settings ?? {};
  const settings: RawConfig = {
    dataDir: './data',
    ...s,
    redis: { url: opts.redisUrl ?? 'redis://127.0.0.1:6379', prefix: opts.redisPrefix ?? `t-${randomUUID()}`, ...(s['redis'] as RawConfig | undefined) },
    worker: { metricsPort: 0, ...(s['worker'] as RawConfig | undefined) },
    api: { port: 0, ...(s['api'] as RawConfig | undefined) },
    log: { level: 'silent', ...(s['log'] as RawConfig | undefined) },
  };
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  const file = join(opts.dir, 'mfb.config.yaml');
  // JSON is valid YAML.
  await writeFile(file, JSON.stringify(settings, null, 2) + '\n', { mode: 0o600 });
  const config = await loadConfig({ file, env: {}, cwd: opts.dir });
  return { config, file, settings };
}
