export { Notifier, redactHookUrl, type JobOutcome, type NotifierOptions, type NotifierStats, type NotifyRoute, type WebhookTarget } from './notifier.js';
export { redisIncidentStore, openIncidents, type IncidentStore } from './incidents.js';
export { messageBody, messageText, type NotificationEvent, type WebhookFormat } from './messages.js';
