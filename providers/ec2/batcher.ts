// Coalesces calls that arrive in the same turn of the event loop into one batch call, and hands
// each caller its own outcome. Used for TerminateInstances, which takes many ids at once.
export type BatchOutcome = unknown | null;

interface Pending<K> {
  key: K;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class Batcher<K> {
  private queue: Pending<K>[] = [];
  private scheduled = false;
  private closed = false;

  /**
   * `run` gets the keys of one batch (at most `maxBatch`) and answers one outcome per key, in
   * order: null for success, else the error that caller gets.
   */
  constructor(
    private readonly run: (keys: K[]) => Promise<BatchOutcome[]>,
    private readonly maxBatch = 1000,
  ) {}

  add(key: K): Promise<void> {
    if (this.closed) return Promise.reject(new DOMException('batcher closed', 'AbortError'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ key, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      // Not a wait for time: only the calls made in this same turn join the batch.
      setImmediate(() => this.flush());
    });
  }

  close(): void {
    this.closed = true;
  }

  private flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      // The same key twice in one batch is sent once and answers both callers.
      const keys = [...new Set(batch.map((p) => p.key))];
      this.run(keys).then(
        (outcomes) => {
          const byKey = new Map(keys.map((k, i) => [k, outcomes[i] ?? null]));
          for (const p of batch) {
            const err = byKey.get(p.key);
            if (err === null || err === undefined) p.resolve();
            else p.reject(err);
          }
        },
        (err: unknown) => {
          for (const p of batch) p.reject(err);
        },
      );
    }
  }
}
