/** Text helpers for the figures: width estimates in DejaVu Sans, escaping, number formatting. */

/** The font the figures ask for (installed with the fonts-dejavu package; librsvg finds it via fontconfig). */
export const FONT = 'DejaVu Sans, Verdana, sans-serif';

// DejaVu Sans advance widths of the printable ASCII characters (DejaVuSans.ttf's hmtx table, 2048
// units per em), in em.
const ASCII_WIDTHS = [
  651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690, 1303, 1303, 1303,
  1303, 1303, 1303, 1303, 1303, 1303, 1303, 690, 690, 1716, 1716, 1716, 1087, 2048, 1401, 1405, 1430, 1577,
  1294, 1178, 1587, 1540, 604, 604, 1343, 1141, 1767, 1532, 1612, 1235, 1612, 1423, 1300, 1251, 1499, 1401,
  2025, 1403, 1251, 1403, 799, 690, 799, 1716, 1024, 1024, 1255, 1300, 1126, 1300, 1260, 721, 1300, 1298, 569,
  569, 1186, 569, 1995, 1298, 1253, 1300, 1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075, 1303, 690,
  1303, 1716,
].map((u) => u / 2048);
const OTHER_WIDTHS: Record<string, number> = {
  '…': 1,
  '—': 1,
  '–': 0.5,
  '−': 0.838,
  '×': 0.838,
  σ: 0.634,
  '·': 0.318,
  '●': 0.873,
  '≥': 0.838,
  '≤': 0.838,
  Δ: 0.684,
  '∂': 0.626,
};

/**
 * The width in pixels of `text` set in DejaVu Sans at `size` px (bold about 10 % wider). Exact for
 * ASCII (no kerning); other characters are estimated (0.65 em, 1 em for wide scripts).
 */
export function textWidth(text: string, size: number, bold = false): number {
  let em = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c >= 32 && c < 127) em += ASCII_WIDTHS[c - 32];
    else if (ch in OTHER_WIDTHS) em += OTHER_WIDTHS[ch];
    else if (
      c >= 0x1100 &&
      (c <= 0x115f ||
        (c >= 0x2e80 && c <= 0xa4cf) ||
        (c >= 0xac00 && c <= 0xd7a3) ||
        (c >= 0xf900 && c <= 0xfaff) ||
        (c >= 0xff00 && c <= 0xff60))
    )
      em += 1;
    else em += 0.65;
  }
  return em * size * (bold ? 1.1 : 1);
}

/** Shortens `text` with a trailing ellipsis so that it fits `maxWidth` px. */
export function fitText(text: string, size: number, maxWidth: number, bold = false): string {
  if (textWidth(text, size, bold) <= maxWidth) return text;
  const chars = [...text];
  let lo = 0;
  let hi = chars.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (textWidth(`${chars.slice(0, mid).join('')}…`, size, bold) <= maxWidth) lo = mid;
    else hi = mid - 1;
  }
  return `${chars.slice(0, lo).join('')}…`;
}

/** Escapes text for XML/HTML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** A number for display: 4 significant digits, exponent form (1.234e-5) for very small or large values. */
export function formatValue(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
  return String(Number(v.toPrecision(4)));
}
