export { createClient, type Client, type ClientOptions, type WaitOptions, type Download } from './client.js';
export { ApiError, ClientError, JobFailedError, JobWaitTimeoutError } from './errors.js';
export * from './schemas.js';
