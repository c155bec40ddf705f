import { describe, expect, it } from 'vitest';
import { redactUrl } from '../src/index.js';

describe('redactUrl (the one URL redaction for config, storage, Redis)', () => {
  it('drops user info and secret query values of every kind of URL', () => {
    expect(redactUrl('redis://:redispw@h:6379')).toBe('redis://h:6379');
    expect(redactUrl('rediss://user:pw@h:6380/2')).toBe('rediss://h:6380/2');
    expect(redactUrl('s3://AKIA:s3cr3t@bucket/x?secretAccessKey=S&region=eu')).toBe('s3://bucket/x?secretAccessKey=REDACTED&region=eu');
    expect(redactUrl('file:///var/backups')).toBe('file:///var/backups');
  });

  it('redacts strings that are not URLs (or have no authority) by text', () => {
    expect(redactUrl('bad:tok3n@bucket')).not.toContain('tok3n');
    expect(redactUrl('not a url user:pw@x?token=abc&x=1')).toBe('not a url x?token=REDACTED&x=1');
  });
});
