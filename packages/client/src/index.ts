export { createClient, type Client, type ClientOptions, type WaitOptions, type Download } from './client.js';
export { ApiError, ClientError, JobFailedError, JobWaitTimeoutError, CLIENT_TRANSPORT_CODES } from './errors.js';
export * from './schemas.js';
export { ID_PATTERN, ID_RE, ID_RULE, HOST_PATTERN, HOST_RE, HOST_RULE, BACKUP_ID_PATTERN, BACKUP_ID_RE, SCOPES, impliedScopes, type Scope } from './rules.js';
