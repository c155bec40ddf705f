/**
 * Every route of the API with the scope it needs and a request that passes auth, used by the
 * auth matrix and the fuzz tests. `{db}`, `{backup}`, `{schedule}`, `{job}` are filled in.
 */
export interface RouteCase {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Template with `{param}` placeholders. */
  url: string;
  scope: 'public' | 'read' | 'write' | 'admin';
  body?: unknown;
  /** Names of the template params. */
  params: string[];
}

export const ROUTES: RouteCase[] = [
  { method: 'GET', url: '/health/live', scope: 'public', params: [] },
  { method: 'GET', url: '/health/ready', scope: 'read', params: [] },
  { method: 'GET', url: '/v1/health', scope: 'read', params: [] },
  { method: 'GET', url: '/status', scope: 'read', params: [] },
  { method: 'GET', url: '/metrics', scope: 'read', params: [] },
  { method: 'GET', url: '/docs/json', scope: 'read', params: [] },
  { method: 'GET', url: '/docs', scope: 'read', params: [] },
  { method: 'GET', url: '/admin/queues', scope: 'admin', params: [] },
  { method: 'GET', url: '/admin/queues/api/queues', scope: 'admin', params: [] },
  { method: 'GET', url: '/v1/databases', scope: 'read', params: [] },
  { method: 'GET', url: '/v1/databases/{db}', scope: 'read', params: ['db'] },
  { method: 'POST', url: '/v1/databases/{db}/backups', scope: 'write', body: {}, params: ['db'] },
  { method: 'GET', url: '/v1/databases/{db}/backups', scope: 'read', params: ['db'] },
  { method: 'GET', url: '/v1/databases/{db}/backups/{backup}', scope: 'read', params: ['db', 'backup'] },
  { method: 'GET', url: '/v1/databases/{db}/backups/{backup}/artifact', scope: 'read', params: ['db', 'backup'] },
  { method: 'DELETE', url: '/v1/databases/{db}/backups/{backup}', scope: 'write', params: ['db', 'backup'] },
  { method: 'PUT', url: '/v1/databases/{db}/backups/{backup}/pin', scope: 'write', params: ['db', 'backup'] },
  { method: 'DELETE', url: '/v1/databases/{db}/backups/{backup}/pin', scope: 'write', params: ['db', 'backup'] },
  { method: 'POST', url: '/v1/databases/{db}/restores', scope: 'admin', body: { backupId: '{backup}', mode: 'new', targetPath: '/tmp/mfb-never-restored.db' }, params: ['db'] },
  { method: 'POST', url: '/v1/databases/{db}/verifies', scope: 'write', body: {}, params: ['db'] },
  { method: 'GET', url: '/v1/schedules', scope: 'read', params: [] },
  { method: 'GET', url: '/v1/databases/{db}/schedules', scope: 'read', params: ['db'] },
  { method: 'POST', url: '/v1/databases/{db}/schedules', scope: 'write', body: { scheduleId: 'fuzz', cron: '0 3 * * *', timezone: 'UTC' }, params: ['db'] },
  { method: 'GET', url: '/v1/databases/{db}/schedules/{schedule}', scope: 'read', params: ['db', 'schedule'] },
  { method: 'PATCH', url: '/v1/databases/{db}/schedules/{schedule}', scope: 'write', body: { cron: '0 4 * * *' }, params: ['db', 'schedule'] },
  { method: 'POST', url: '/v1/databases/{db}/schedules/{schedule}/pause', scope: 'write', body: {}, params: ['db', 'schedule'] },
  { method: 'POST', url: '/v1/databases/{db}/schedules/{schedule}/resume', scope: 'write', body: {}, params: ['db', 'schedule'] },
  { method: 'DELETE', url: '/v1/databases/{db}/schedules/{schedule}', scope: 'write', params: ['db', 'schedule'] },
  { method: 'GET', url: '/v1/databases/{db}/retention', scope: 'read', params: ['db'] },
  { method: 'GET', url: '/v1/usage', scope: 'read', params: [] },
  { method: 'GET', url: '/v1/jobs/{job}', scope: 'read', params: ['job'] },
  { method: 'POST', url: '/v1/catalog/rebuild', scope: 'admin', body: {}, params: [] },
];

export function fill(template: string, values: Record<string, string>, encode = true): string {
  return template.replace(/\{(\w+)\}/g, (_m, k: string) => {
    const v = values[k] ?? '';
    return encode ? encodeURIComponent(v) : v;
  });
}

export function fillBody(body: unknown, values: Record<string, string>): unknown {
  if (body === undefined) return undefined;
  return JSON.parse(fill(JSON.stringify(body), values, false));
}
