/**
 * One CSV cell (RFC 4180): objects as JSON, quoted when it holds a quote, comma or line break. A
 * text a spreadsheet would run as a formula (leading =, +, -, @, tab or CR) is prefixed with `'`;
 * numbers are data and stay as they are.
 */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'string' ? v : typeof v === 'number' ? String(v) : JSON.stringify(v);
  if (typeof v !== 'number' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A CSV line of cells (without its line end). */
export const csvLine = (cells: readonly unknown[]): string => cells.map(csvCell).join(',');
