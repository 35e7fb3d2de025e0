// Bounds how many async tasks run at once (launches per provider), FIFO.

export class Semaphore {
  private waiters: (() => void)[] = [];
  private active = 0;
  constructor(private limit: number) {}

  setLimit(limit: number): void {
    this.limit = limit;
    this.drain();
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.active >= this.limit || this.waiters.length > 0) {
      await new Promise<void>((resolve, reject) => {
        const entry = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          this.waiters = this.waiters.filter((w) => w !== entry);
          reject(signal?.reason);
        };
        if (signal?.aborted) return reject(signal.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiters.push(entry);
      });
    } else {
      this.active++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.drain();
    };
  }

  private drain(): void {
    while (this.active < this.limit && this.waiters.length > 0) {
      this.active++;
      this.waiters.shift()!();
    }
  }

  get running(): number {
    return this.active;
  }
  get queued(): number {
    return this.waiters.length;
  }
}
