import { describe, expect, it } from 'vitest';
import { formatTable } from '../../src/cli/table.js';

describe('formatTable', () => {
  it('aligns every column to its widest cell, header first, no trailing blanks', () => {
    const text = formatTable(['ID', 'Name', 'Note'], [
      [1, 'alpha', 'x'],
      [200, 'b', null],
    ]);
    expect(text).toBe(['ID   Name   Note', '1    alpha  x', '200  b'].join('\n') + '\n');
  });

  it('prints only the header for no rows', () => {
    expect(formatTable(['A', 'Bee'], [])).toBe('A  Bee\n');
  });

  it('shows null and undefined as empty cells and keeps one line per row', () => {
    const text = formatTable(['A', 'B', 'C'], [[undefined, 'two\nlines', 3]]);
    expect(text).toBe('A  B          C\n   two lines  3\n');
  });

  it('fills missing cells of a short row', () => {
    expect(formatTable(['A', 'B'], [['1']])).toBe('A  B\n1\n');
  });
});
