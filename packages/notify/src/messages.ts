/** Body shapes of the webhook formats. */
export type WebhookFormat = 'json' | 'slack' | 'discord';

/** One incident message. */
export interface NotificationEvent {
  kind: 'failure' | 'recovery';
  databaseId: string;
  job: string;
  target: string | null;
  /** When the outcome happened (ISO). */
  at: string;
  /** When the incident began (ISO). */
  since: string;
  error: string | null;
  jobId: string | null;
}

function subject(e: NotificationEvent): string {
  const what = e.job === 'upload' && e.target ? `Upload of ${e.databaseId} to ${e.target}` : `${e.job[0]!.toUpperCase()}${e.job.slice(1)} of ${e.databaseId}`;
  return e.kind === 'failure' ? `${what} failed` : `${what} recovered`;
}

/** One line for humans (Slack `text`, Discord `content`). */
export function messageText(e: NotificationEvent): string {
  if (e.kind === 'failure') return `:x: ${subject(e)}: ${(e.error ?? 'unknown error').slice(0, 500)}`;
  return `:white_check_mark: ${subject(e)} (failing since ${e.since})`;
}

/** The JSON body POSTed for `format`. */
export function messageBody(format: WebhookFormat, e: NotificationEvent): Record<string, unknown> {
  switch (format) {
    case 'slack':
      // Incoming webhooks: `text` is required (and the notification fallback); `attachments` colour it.
      return {
        text: messageText(e),
        attachments: [
          {
            color: e.kind === 'failure' ? 'danger' : 'good',
            fields: [
              { title: 'Database', value: e.databaseId, short: true },
              { title: 'Job', value: e.target ? `${e.job} → ${e.target}` : e.job, short: true },
              { title: e.kind === 'failure' ? 'Failed at' : 'Failing since', value: e.kind === 'failure' ? e.at : e.since, short: false },
            ],
          },
        ],
      };
    case 'discord':
      // Execute-webhook body: `content` at most 2000 characters, embeds with a decimal colour.
      return {
        username: 'MyFinance Backup',
        content: messageText(e).slice(0, 2000),
        embeds: [
          {
            title: subject(e),
            description: (e.kind === 'failure' ? (e.error ?? 'unknown error') : `failing since ${e.since}`).slice(0, 4000),
            color: e.kind === 'failure' ? 0xd93f0b : 0x2ea043,
            timestamp: e.at,
            fields: [
              { name: 'Database', value: e.databaseId, inline: true },
              { name: 'Job', value: e.target ? `${e.job} → ${e.target}` : e.job, inline: true },
            ],
          },
        ],
      };
    case 'json':
      return { event: e.kind, databaseId: e.databaseId, job: e.job, target: e.target, at: e.at, since: e.since, error: e.error, jobId: e.jobId, text: messageText(e) };
  }
}
