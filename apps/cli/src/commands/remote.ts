import { readFile } from 'node:fs/promises';
import { createClient, impliedScopes, type BackupSummary, type Client, type JobView } from '@mfb/client';
import type { Context } from '../context.js';
import { NoApiKeyError } from '../errors.js';
import { bytes, chainCells, fields, table } from '../format.js';

export interface RemoteOptions {
  apiUrl?: string;
  apiKeyFile?: string;
}

/**
 * A client for a running API. URL: `--api-url`, else the config's api host/port. Key:
 * `--api-key-file`, else the first configured API key with the needed scope (an operator on
 * the API's host has the config). Keys are never taken from the command line itself (they
 * would show in `ps` and shell history).
 */
export async function clientFor(ctx: Context, o: RemoteOptions, scope: 'read' | 'write'): Promise<Client> {
  let baseUrl = o.apiUrl;
  let apiKey = o.apiKeyFile ? (await readFile(o.apiKeyFile, 'utf8')).trim() : undefined;
  if (!baseUrl || !apiKey) {
    const cfg = await ctx.config();
    const host = cfg.api.host === '0.0.0.0' || cfg.api.host === '::' ? '127.0.0.1' : cfg.api.host;
    baseUrl ??= `http://${host.includes(':') ? `[${host}]` : host}:${cfg.api.port}`;
    apiKey ??= cfg.api.keys.find((k) => impliedScopes(k.scopes).includes(scope))?.key;
  }
  if (!apiKey) throw new NoApiKeyError(scope);
  return createClient({ baseUrl, apiKey });
}

export async function runTrigger(ctx: Context, databaseId: string, o: RemoteOptions & { wait?: boolean; at?: string; timeout?: string }) {
  const client = await clientFor(ctx, o, 'write');
  const accepted = await client.triggerBackup(databaseId, o.at ? { at: o.at } : {});
  if (!o.wait) return { accepted, job: null as JobView | null };
  const job = await client.waitForJob(accepted.jobId, { timeoutMs: Number(o.timeout ?? 3600) * 1000, intervalMs: 500 });
  return { accepted, job };
}

export function humanTrigger(r: Awaited<ReturnType<typeof runTrigger>>): string {
  const a = r.accepted;
  const head = `${a.deduplicated ? 'already queued' : 'queued'}: job ${a.jobId} on ${a.queue}${a.runAt ? ` at ${a.runAt}` : ''}`;
  return r.job ? `${head}\n${humanJob(r.job)}` : head;
}

export async function runStatus(ctx: Context, jobId: string, o: RemoteOptions) {
  const client = await clientFor(ctx, o, 'read');
  return client.getJob(jobId);
}

export function humanJob(j: JobView): string {
  return fields([
    ['job', j.id],
    ['queue', j.queue],
    ['state', j.state],
    ['attempts', `${j.attemptsMade}/${j.maxAttempts}`],
    ['created', j.createdAt],
    ['finished', j.finishedAt],
    ['failed reason', j.failedReason ?? undefined],
    ['result', j.result === undefined || j.result === null ? undefined : JSON.stringify(j.result)],
  ]);
}

export async function runRemoteList(ctx: Context, databaseId: string | undefined, o: RemoteOptions & { limit?: string; all?: boolean }) {
  const client = await clientFor(ctx, o, 'read');
  const ids = databaseId ? [databaseId] : (await client.listDatabases()).map((d) => d.id);
  const items: BackupSummary[] = [];
  const limit = Math.min(500, Math.max(1, Number(o.limit ?? 50) || 50));
  for (const id of ids) {
    if (o.all) for await (const b of client.iterateBackups(id, { limit })) items.push(b);
    else items.push(...(await client.listBackups(id, { limit })).items);
  }
  items.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
  return { items };
}

export function humanRemoteList(r: Awaited<ReturnType<typeof runRemoteList>>): string {
  if (r.items.length === 0) return 'no backups';
  return table(
    ['BACKUP', 'DATABASE', 'CREATED', 'SIZE', 'KIND', 'PARENT', 'STATUS', 'PINNED', 'COPIES'],
    r.items.map((b) => [
      b.backupId,
      b.databaseId,
      b.createdAt,
      bytes(b.sizeBytes),
      ...chainCells(b),
      b.status,
      b.pinned ? 'yes' : 'no',
      b.locations.filter((l) => l.deletedAt === null).map((l) => l.target).join(','),
    ]),
  );
}
