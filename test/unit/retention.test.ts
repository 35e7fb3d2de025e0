import { describe, expect, it } from 'vitest';
import { retention } from '../../src/builder/retention.js';

describe('image retention', () => {
  it('keeps the newest ready image as current and one previous; deletes older ready ones', () => {
    const r = retention([
      { id: 1, state: 'ready', created: 100 },
      { id: 2, state: 'ready', created: 300 },
      { id: 3, state: 'ready', created: 200 },
      { id: 4, state: 'building', created: 400 },
      { id: 5, state: 'deleting', created: 50 },
    ]);
    expect(r).toEqual({ current: 2, previous: 3, remove: [1] });
  });

  it('has no current image until one is ready, and breaks time ties by id', () => {
    expect(retention([{ id: 7, state: 'building', created: 1 }])).toEqual({ current: null, previous: null, remove: [] });
    expect(retention([{ id: 1, state: 'ready', created: 5 }, { id: 2, state: 'ready', created: 5 }])).toEqual({ current: 2, previous: 1, remove: [] });
  });

  it('keeps failed builds newer than the current image (at most keepFailed), and deletes older ones', () => {
    const r = retention(
      [
        { id: 1, state: 'failed', created: 50 },
        { id: 2, state: 'ready', created: 100 },
        { id: 3, state: 'failed', created: 200 },
        { id: 4, state: 'failed', created: 300 },
        { id: 5, state: 'failed', created: 400 },
      ],
      2,
    );
    expect(r).toEqual({ current: 2, previous: null, remove: [3, 1] });
    // No image ever got ready: the newest failures stay, to show why.
    expect(retention([{ id: 1, state: 'failed', created: 1 }, { id: 2, state: 'failed', created: 2 }], 1)).toEqual({ current: null, previous: null, remove: [1] });
  });
});
