// A task that is never run twice at once: calling it while it runs joins the run in progress.

/** Wraps `fn` so that concurrent calls share one run; the next call after it ends starts a new one. */
export function joined(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  return () => {
    running ??= fn().finally(() => {
      running = null;
    });
    return running;
  };
}
