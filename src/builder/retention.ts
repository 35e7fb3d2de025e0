// Which baked images to keep: per provider image, the newest ready image is current and one
// previous ready image is kept to fall back on; older ready images are deleted. Failed builds
// newer than the current image stay (at most KEEP_FAILED) so image-list shows why and the
// schedule's backoff can count them; older failed rows go. Pure.

export interface RetainedImage {
  id: number;
  state: string;
  /** Build time (ms); ties broken by id, newer id first. */
  created: number;
}

export interface Retention {
  current: number | null;
  previous: number | null;
  remove: number[];
}

/** Failed builds kept per provider image since the last good one. */
export const KEEP_FAILED = 10;

const newestFirst = (a: RetainedImage, b: RetainedImage) => b.created - a.created || b.id - a.id;

export function retention(images: readonly RetainedImage[], keepFailed = KEEP_FAILED): Retention {
  const ready = images.filter((i) => i.state === 'ready').sort(newestFirst);
  const current = ready[0];
  const failed = images.filter((i) => i.state === 'failed').sort(newestFirst);
  const kept = new Set(failed.filter((f) => !current || newestFirst(f, current) < 0).slice(0, keepFailed).map((f) => f.id));
  return {
    current: current?.id ?? null,
    previous: ready[1]?.id ?? null,
    remove: [...ready.slice(2).map((i) => i.id), ...failed.filter((f) => !kept.has(f.id)).map((f) => f.id)],
  };
}

/** The build a node of this provider image boots now: retention's current (the newest ready build). */
export function currentImage<T extends RetainedImage>(rows: readonly T[]): T | undefined {
  const id = retention(rows).current;
  return rows.find((r) => r.id === id);
}
