/** Engine progress (`@mfb/backup` Progress) or any other staged byte count (e.g. `generate`). */
export interface Progress {
  stage: string;
  bytesDone: number;
  bytesTotal: number;
}

export interface ProgressReporter {
  update(p: Progress): void;
  /** Finish the current line (TTY) so later output starts on a fresh line. */
  done(): void;
}

const MiB = 1024 * 1024;
const fmt = (n: number) => (n / MiB).toFixed(1);

/**
 * Progress on stderr: one redrawn bar on a TTY (at most 10 redraws/s; a finished stage keeps
 * its line), plain lines otherwise (per stage: one per 10% step, or every 5 s when the total
 * is unknown), nothing when quiet. Stages may interleave (the engine compresses and stores at
 * the same time): a stage with an unknown total is shown beside the bar, not instead of it.
 */
export function createProgress(opts: { stream: NodeJS.WriteStream; quiet: boolean; now?: () => number }): ProgressReporter {
  const { stream } = opts;
  const now = opts.now ?? Date.now;
  if (opts.quiet) return { update() {}, done() {} };

  if (stream.isTTY) {
    let cur: Progress | null = null;
    let curStart = 0;
    let side: Progress | null = null;
    let lastDraw = 0;
    const draw = (force: boolean) => {
      if (!cur) return;
      const t = now();
      if (!force && t - lastDraw < 100) return;
      lastDraw = t;
      const p = cur;
      const secs = Math.max(0.001, (t - curStart) / 1000);
      const rate = `${fmt(p.bytesDone / secs)} MiB/s`;
      const width = Math.max(10, Math.min(30, (stream.columns ?? 80) - 60));
      let line: string;
      if (p.bytesTotal > 0) {
        const frac = Math.min(1, p.bytesDone / p.bytesTotal);
        const filled = Math.round(frac * width);
        line = `${p.stage.padEnd(8)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${fmt(p.bytesDone)}/${fmt(p.bytesTotal)} MiB ${rate}`;
      } else {
        line = `${p.stage.padEnd(8)} ${fmt(p.bytesDone)} MiB ${rate}`;
      }
      if (side && side.stage !== p.stage) line += `  (${side.stage} ${fmt(side.bytesDone)} MiB)`;
      stream.write(`\r\x1b[2K${line}`);
    };
    const finished = (p: Progress | null) => p !== null && p.bytesTotal > 0 && p.bytesDone >= p.bytesTotal;
    return {
      update(p) {
        if (p.bytesTotal === 0 && cur && cur.bytesTotal > 0 && !finished(cur) && p.stage !== cur.stage) {
          side = p;
          draw(false);
          return;
        }
        if (!cur || p.stage !== cur.stage) {
          if (finished(cur)) {
            draw(true);
            stream.write('\n');
          }
          side = null;
          curStart = now();
        }
        cur = p;
        draw(finished(p));
      },
      done() {
        if (cur) {
          draw(true);
          stream.write('\n');
        }
        cur = null;
        side = null;
      },
    };
  }

  const stages = new Map<string, { step: number; at: number }>();
  return {
    update(p) {
      const t = now();
      let st = stages.get(p.stage);
      if (!st) {
        st = { step: -1, at: t };
        stages.set(p.stage, st);
      }
      if (p.bytesTotal > 0) {
        const step = Math.floor((Math.min(1, p.bytesDone / p.bytesTotal) * 100) / 10);
        if (step === st.step) return;
        st.step = step;
        stream.write(`progress: ${p.stage} ${step * 10}% (${fmt(p.bytesDone)}/${fmt(p.bytesTotal)} MiB)\n`);
      } else if (t - st.at >= 5000) {
        st.at = t;
        stream.write(`progress: ${p.stage} ${fmt(p.bytesDone)} MiB\n`);
      }
    },
    done() {
      stages.clear();
    },
  };
}
