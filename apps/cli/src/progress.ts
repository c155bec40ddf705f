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
 * Progress on stderr: a redrawn bar on a TTY (at most 10 redraws/s), plain lines otherwise
 * (one per stage and per 10% step, or every 5 s when the total is unknown), nothing when quiet.
 */
export function createProgress(opts: { stream: NodeJS.WriteStream; quiet: boolean; now?: () => number }): ProgressReporter {
  const { stream } = opts;
  const now = opts.now ?? Date.now;
  if (opts.quiet) return { update() {}, done() {} };
  let stage = '';
  let stageStart = now();
  let lastDraw = 0;
  let lastStep = -1;
  let drawn = false;

  if (stream.isTTY) {
    const draw = (p: Progress, force: boolean) => {
      const t = now();
      if (!force && t - lastDraw < 100) return;
      lastDraw = t;
      const secs = Math.max(0.001, (t - stageStart) / 1000);
      const rate = `${fmt(p.bytesDone / secs)} MiB/s`;
      const width = Math.max(10, Math.min(30, (stream.columns ?? 80) - 50));
      let line: string;
      if (p.bytesTotal > 0) {
        const frac = Math.min(1, p.bytesDone / p.bytesTotal);
        const filled = Math.round(frac * width);
        line = `${p.stage.padEnd(8)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${fmt(p.bytesDone)}/${fmt(p.bytesTotal)} MiB ${rate}`;
      } else {
        line = `${p.stage.padEnd(8)} ${fmt(p.bytesDone)} MiB ${rate}`;
      }
      stream.write(`\r\x1b[2K${line}`);
      drawn = true;
    };
    let last: Progress | null = null;
    return {
      update(p) {
        if (p.stage !== stage) {
          if (last && drawn) {
            draw(last, true);
            stream.write('\n');
          }
          stage = p.stage;
          stageStart = now();
        }
        last = p;
        draw(p, false);
      },
      done() {
        if (last && drawn) {
          draw(last, true);
          stream.write('\n');
        }
        drawn = false;
        last = null;
        stage = '';
      },
    };
  }

  return {
    update(p) {
      const t = now();
      if (p.stage !== stage) {
        stage = p.stage;
        stageStart = t;
        lastStep = -1;
        lastDraw = 0;
      }
      if (p.bytesTotal > 0) {
        const step = Math.floor((Math.min(1, p.bytesDone / p.bytesTotal) * 100) / 10);
        if (step === lastStep) return;
        lastStep = step;
        stream.write(`progress: ${p.stage} ${step * 10}% (${fmt(p.bytesDone)}/${fmt(p.bytesTotal)} MiB)\n`);
      } else if (t - lastDraw >= 5000) {
        lastDraw = t;
        stream.write(`progress: ${p.stage} ${fmt(p.bytesDone)} MiB\n`);
      }
    },
    done() {
      stage = '';
    },
  };
}
