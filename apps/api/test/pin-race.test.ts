import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestKeyFor, pinKeyFor } from '@mfb/backup';
import { pruneTarget } from '@mfb/runtime';
import { bearer, fakeManifest, putFile, startTestApp, type TestApp } from './helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

const ROUNDS = 300;

describe('pin racing a prune', () => {
  it(`in ${ROUNDS} rounds, no pin the API acknowledged is deleted; a refused pin is 409 BACKUP_DELETING`, async () => {
    const db = { ...t.config.databases.find((d) => d.id === 'main')!, retention: { keepLast: 1 } };
    const storage = t.app.storageFor('local');
    const base = Date.parse('2026-01-01T00:00:00Z');
    const outcomes = { acknowledged: 0, refused: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      // x: the older of two new backups, which keepLast 1 deletes unless the pin wins.
      const [x, y] = [0, 1].map((i) => fakeManifest('main', new Date(base + (2 * round + i) * 60_000), 10));
      for (const m of [x!, y!]) {
        await putFile(t.config.storageUrl, m.artifactKey, Buffer.from('artifact'));
        await putFile(t.config.storageUrl, manifestKeyFor(m.artifactKey), Buffer.from(JSON.stringify(m)));
        await t.catalog.recordBackup(m, { target: 'local', artifactKey: m.artifactKey });
      }
      // Start one of the two a little after the other (the pin in even rounds, the prune in
      // odd ones): 0-19 event-loop turns, or 1-20 ms, so they interleave at every step.
      const lag = (round >> 1) % 40;
      const after = async <T>(lagged: boolean, fn: () => Promise<T>): Promise<T> => {
        if (lagged && lag < 20) for (let i = 0; i < lag; i++) await tick();
        else if (lagged) await sleep(lag - 19);
        return fn();
      };
      const [pin] = await Promise.all([
        after(round % 2 === 0, () => t.app.inject({ method: 'PUT', url: `/v1/databases/main/backups/${x!.backupId}/pin`, headers: bearer('write') })),
        after(round % 2 === 1, () => pruneTarget({ config: t.config, catalog: t.catalog, storage }, db, 'local', new Date(base + 10 * ROUNDS * 60_000))),
      ]);
      const rec = await t.catalog.getBackup(x!.backupId);
      const live = rec!.locations.some((l) => l.target === 'local' && l.deletedAt === null);
      if (pin.statusCode === 200) {
        outcomes.acknowledged++;
        expect(live, `round ${round}: acknowledged pin of ${x!.backupId} lost`).toBe(true);
        expect(rec!.pinned).toBe(true);
        for (const k of [x!.artifactKey, manifestKeyFor(x!.artifactKey), pinKeyFor(x!.artifactKey)]) expect(await storage.head(k), `round ${round}: ${k}`).not.toBeNull();
      } else {
        outcomes.refused++;
        expect(pin.statusCode, `round ${round}: ${pin.body}`).toBe(409);
        expect(pin.json()).toMatchObject({ code: 'BACKUP_DELETING' });
        expect(rec!.pinned).toBe(false);
        expect(live).toBe(false);
        // the refused pin left no marker that a catalog rebuild would turn into a pin
        expect(await storage.head(pinKeyFor(x!.artifactKey)), `round ${round}: stale marker`).toBeNull();
      }
    }
    // Both orders happened (the race was run, not only one side of it).
    expect(outcomes.acknowledged).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  }, 120_000);
});
