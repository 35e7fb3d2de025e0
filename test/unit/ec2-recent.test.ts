// Read-your-writes memory of the EC2 driver: remembered until a read shows it, for at most the TTL.
import { expect, it } from 'vitest';
import { RecentWrites } from '../../providers/ec2/recent.js';

it('remembers what was made until a read shows it, for at most the TTL', () => {
  let now = 0;
  const r = new RecentWrites<string>(1000, () => now);
  r.add('i-1', 'one');
  r.add('i-2', 'two');
  expect(r.unseen()).toEqual(['one', 'two']);
  r.seen(['i-1', 'i-9']);
  expect(r.unseen()).toEqual(['two']);
  expect(r.get('i-1')).toBeUndefined();
  now = 999;
  expect(r.get('i-2')).toBe('two');
  now = 1000;
  expect(r.get('i-2')).toBeUndefined();
  expect(r.unseen()).toEqual([]);
});
