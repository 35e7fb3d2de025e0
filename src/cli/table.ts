// Aligned text tables for the CLI. Pure: rows in, text out.

export type Cell = string | number | null | undefined;

function cellText(cell: Cell): string {
  // One line per row whatever an operator typed into a comment.
  return cell === null || cell === undefined ? '' : String(cell).replace(/[\r\n\t]+/g, ' ');
}

/**
 * A header row and one row per record, each column as wide as its widest cell, columns
 * separated by two spaces, no trailing blanks. Ends with a newline.
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = [headers.map(cellText), ...rows.map((row) => headers.map((_, i) => cellText(row[i])))];
  const widths = headers.map((_, i) => Math.max(...text.map((row) => row[i].length)));
  return text.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd() + '\n').join('');
}
