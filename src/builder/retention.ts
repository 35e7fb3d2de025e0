// Which baked images to keep: per provider image, the newest ready image is current and one
// previous ready image is kept to fall back on; older ready images are deleted. Pure.

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

export function retention(images: readonly RetainedImage[]): Retention {
  const ready = images.filter((i) => i.state === 'ready').sort((a, b) => b.created - a.created || b.id - a.id);
  return { current: ready[0]?.id ?? null, previous: ready[1]?.id ?? null, remove: ready.slice(2).map((i) => i.id) };
}
