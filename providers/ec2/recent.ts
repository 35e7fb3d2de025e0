// Read-your-writes over EC2's eventually consistent reads: an instance or AMI we just made can be
// missing from Describe calls (absent from lists, NotFound by id) for a few seconds. The driver
// remembers what it made until a read shows it, so a list or a get never reports it gone, for at
// most `ttlMs`: a resource still unseen after that did not come to be.
export class RecentWrites<T> {
  private readonly items = new Map<string, { value: T; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  add(id: string, value: T): void {
    this.items.set(id, { value, until: this.now() + this.ttlMs });
  }

  /** A read showed these ids (in any state): they no longer need remembering. */
  seen(ids: Iterable<string>): void {
    for (const id of ids) this.items.delete(id);
  }

  /** The remembered value, while reads may still miss it. */
  get(id: string): T | undefined {
    const item = this.items.get(id);
    if (!item) return undefined;
    if (item.until <= this.now()) {
      this.items.delete(id);
      return undefined;
    }
    return item.value;
  }

  /** Everything made but not yet seen, oldest first. */
  unseen(): T[] {
    const out: T[] = [];
    for (const id of [...this.items.keys()]) {
      const v = this.get(id);
      if (v !== undefined) out.push(v);
    }
    return out;
  }
}
