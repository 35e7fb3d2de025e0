import { describe, expect, it } from 'vitest';
import { InvalidTransitionError } from '../../src/errors.js';
import { IMAGE_STATES, NODE_STATES, assertTransition, canTransition, canTransitionImage, type ImageState, type NodeState } from '../../src/model.js';

// Written out by hand (not derived from model.ts) so that a change to the rules fails here.
const NODE_ALLOWED: Record<NodeState, NodeState[]> = {
  building: ['ready', 'deleting'],
  ready: ['in-use', 'hold', 'deleting'],
  'in-use': ['used', 'hold', 'deleting'],
  used: ['hold', 'deleting'],
  hold: ['deleting'],
  deleting: [],
};

const IMAGE_ALLOWED: Record<ImageState, ImageState[]> = {
  building: ['ready', 'failed', 'deleting'],
  ready: ['deleting'],
  failed: ['deleting'],
  deleting: [],
};

const nodeCases = NODE_STATES.flatMap((from) => NODE_STATES.map((to) => ({ from, to, allowed: NODE_ALLOWED[from].includes(to) })));
const imageCases = IMAGE_STATES.flatMap((from) => IMAGE_STATES.map((to) => ({ from, to, allowed: IMAGE_ALLOWED[from].includes(to) })));

describe('node transitions', () => {
  it('covers every pair of states', () => {
    expect(nodeCases).toHaveLength(36);
    expect(nodeCases.filter((c) => c.allowed)).toHaveLength(11);
  });

  it.each(nodeCases)('$from -> $to allowed=$allowed', ({ from, to, allowed }) => {
    expect(canTransition(from, to)).toBe(allowed);
    if (allowed) {
      expect(() => assertTransition('node', 7, from, to)).not.toThrow();
    } else {
      let caught: unknown;
      try {
        assertTransition('node', 7, from, to);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(InvalidTransitionError);
      expect(caught).toMatchObject({ code: 'invalid-transition', kind: 'node', id: 7, from, to });
    }
  });

  it('refuses unknown states', () => {
    expect(() => assertTransition('node', 1, 'gone', 'ready')).toThrow(InvalidTransitionError);
    expect(() => assertTransition('node', 1, 'ready', 'gone')).toThrow(InvalidTransitionError);
  });
});

describe('image transitions', () => {
  it.each(imageCases)('$from -> $to allowed=$allowed', ({ from, to, allowed }) => {
    expect(canTransitionImage(from, to)).toBe(allowed);
    if (allowed) expect(() => assertTransition('image', 3, from, to)).not.toThrow();
    else expect(() => assertTransition('image', 3, from, to)).toThrow(InvalidTransitionError);
  });
});
