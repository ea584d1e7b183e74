/** Minimal CSV (RFC 4180 quoting) for the experiments' result files. */

const needsQuotes = /[",\r\n]/;

export function csvField(v: string | number | boolean): string {
  const s = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
  return needsQuotes.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const csvLine = (fields: readonly (string | number | boolean)[]) => fields.map(csvField).join(',');

/**
 * Parses CSV text into rows of fields. A final line without its newline is returned with
 * `complete: false` (it may have been cut by an interruption).
 */
export function parseCsv(text: string): { rows: string[][]; complete: boolean[] } {
  const rows: string[][] = [];
  const complete: boolean[] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  let started = false;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (ch === '"') quoted = false;
      else field += ch;
      i++;
      continue;
    }
    started = true;
    if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      complete.push(true);
      row = [];
      field = '';
      started = false;
    } else field += ch;
    i++;
  }
  if (started || quoted || field || row.length) {
    row.push(field);
    rows.push(row);
    complete.push(false);
  }
  return { rows, complete };
}
