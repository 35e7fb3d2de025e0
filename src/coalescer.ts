// Runs an async job whenever asked, one run at a time: requests that arrive during a run
// collapse into one more run, and none is ever lost (the planner's trigger).

export class Coalescer {
  private pending = false;
  private loop: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly job: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  request(): void {
    if (this.closed) return;
    this.pending = true;
    if (!this.loop) this.loop = this.run();
  }

  /** Stops taking requests; resolves when the run in progress (if any) has ended. */
  async close(): Promise<void> {
    this.closed = true;
    await this.loop;
  }

  /** Resolves once no run is in progress or pending. */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  private async run(): Promise<void> {
    while (this.pending && !this.closed) {
      this.pending = false;
      try {
        await this.job();
      } catch (err) {
        this.onError(err);
      }
    }
    // Cleared in the same turn as the last look at `pending`: a request arriving after this
    // starts a new loop, and none can slip in between and be lost.
    this.loop = null;
  }
}
