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
});
