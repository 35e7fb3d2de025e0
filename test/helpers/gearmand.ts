// The real gearmand for integration tests; the demo uses the same launcher.
export * from '../../src/sim/gearmand.js';
