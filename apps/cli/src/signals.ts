/**
 * An AbortSignal that fires on the first SIGINT/SIGTERM, so the engine stops and removes its
 * temp files; a second signal exits at once. `dispose()` removes the handlers.
 */
export function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write(`\n${sig}: stopping (cleaning up temp files; press Ctrl-C again to exit at once)\n`);
    ac.abort(new Error(`interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: ac.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
