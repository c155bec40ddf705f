/** Query parameter names whose values are secrets (`secretAccessKey`, `sig`, `X-Amz-Signature`, a SAS token...). */
const SECRET_PARAM = /(secret|password|passwd|pwd|token|key|sig|signature|credential|sas|auth)/i;

/** Whether a query parameter or driver option name looks like it holds a secret. */
export function isSecretName(name: string): boolean {
  return SECRET_PARAM.test(name);
}

/**
 * A URL safe for logs, errors, metrics and the API (storage, target and Redis URLs alike):
 * user info (`user:pass@`) removed and the values of query parameters that look like secrets
 * replaced with `REDACTED`. Strings that do not parse as URLs get the same treatment by text
 * (every `something@` removed, secret-looking `name=value` pairs redacted).
 */
export function redactUrl(url: string): string {
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    u = undefined;
  }
  // Unparsable, or no authority (`bad:user:pw@bucket` parses as an opaque path): by text.
  if (!u || !u.host) {
    return url
      .replace(/[^\s/@]+@/g, '')
      .replace(/([?&;]([^=&\s]*)=)([^&\s]*)/g, (all, head: string, name: string) => (SECRET_PARAM.test(name) ? `${head}REDACTED` : all));
  }
  u.username = '';
  u.password = '';
  for (const name of [...u.searchParams.keys()]) {
    if (SECRET_PARAM.test(name)) u.searchParams.set(name, 'REDACTED');
  }
  return u.href;
}
