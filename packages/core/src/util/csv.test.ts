import { describe, expect, it } from 'vitest';
import { csvCell, csvLine } from './csv.js';

describe('csvCell', () => {
  it('quotes what needs it, escapes formulas in text, keeps numbers and writes objects as JSON', () => {
    expect(csvCell(null)).toBe('');
    expect(csvCell('plain 中文')).toBe('plain 中文');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('=SUM(A1)')).toBe("'=SUM(A1)");
    expect(csvCell('\tcmd')).toBe("'\tcmd");
    expect(csvCell(-5)).toBe('-5');
    expect(csvCell(0.48)).toBe('0.48');
    expect(csvCell({ a: 1 })).toBe('"{""a"":1}"');
    expect(csvLine(['x', 1, null])).toBe('x,1,');
  });
});
