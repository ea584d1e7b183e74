/**
 * Placing the labels of marked points so that they overlap neither each other, nor a marked
 * point, nor the curve — beside the point when there is room, else stacked above or below it
 * with a leader line.
 */
import { textWidth } from '../text.js';

/** A rectangle in px, relative to the plot area's top left corner. */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

const overlaps = (a: Box, b: Box, m = 1) =>
  a.x0 < b.x1 + m && b.x0 < a.x1 + m && a.y0 < b.y1 + m && b.y0 < a.y1 + m;

/** Whether the polyline (points sorted by x, in px) passes through the box. */
function lineHits(xs: Float64Array, ys: Float64Array, box: Box): boolean {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < box.x0) lo = mid + 1;
    else hi = mid;
  }
  for (let j = Math.max(0, lo - 1); j < xs.length - 1 && xs[j] <= box.x1; j++) {
    const [xa, ya, xb, yb] = [xs[j], ys[j], xs[j + 1], ys[j + 1]];
    const c0 = Math.max(xa, box.x0);
    const c1 = Math.min(xb, box.x1);
    if (c0 > c1) continue;
    let ymin: number;
    let ymax: number;
    if (xb === xa) {
      ymin = Math.min(ya, yb);
      ymax = Math.max(ya, yb);
    } else {
      const at = (x: number) => ya + ((yb - ya) * (x - xa)) / (xb - xa);
      ymin = Math.min(at(c0), at(c1));
      ymax = Math.max(at(c0), at(c1));
    }
    if (ymin <= box.y1 && ymax >= box.y0) return true;
  }
  return false;
}

export interface PlacedLabel {
  text: string;
  /** The marked point, px. */
  px: number;
  py: number;
  box: Box;
  /** Whether a leader line joins point and label. */
  leader: boolean;
}

/**
 * Places one label per point (in rank order), beside it if there is room, else stacked above or
 * below with a leader line: never over another label, a marked point or the curve, inside the
 * plot; if nothing fits, beside the point regardless.
 */
export function placeLabels(
  points: { text: string; px: number; py: number }[],
  curve: { xs: Float64Array; ys: Float64Array },
  plotW: number,
  plotH: number,
  fontSize: number,
): PlacedLabel[] {
  const h = Math.ceil(fontSize * 1.3);
  const placed: Box[] = [];
  const pointBoxes = points.map((p) => ({ x0: p.px - 4, y0: p.py - 4, x1: p.px + 4, y1: p.py + 4 }));
  const out: PlacedLabel[] = [];
  for (const p of points) {
    const w = textWidth(p.text, fontSize) + 6;
    const boxAt = (right: boolean, dy: number): Box => {
      const x0 = right ? p.px + 7 : p.px - 7 - w;
      const yc = p.py + dy;
      return { x0, x1: x0 + w, y0: yc - h / 2, y1: yc + h / 2 };
    };
    const fits = (b: Box, avoidCurve: boolean) =>
      b.x0 >= 0 &&
      b.x1 <= plotW &&
      b.y0 >= 0 &&
      b.y1 <= plotH &&
      !placed.some((o) => overlaps(o, b)) &&
      !pointBoxes.some((o) => overlaps(o, b, 0)) &&
      !(avoidCurve && lineHits(curve.xs, curve.ys, b));
    const found = search(boxAt, fits, h + 1) ?? { box: boxAt(p.px + 7 + w <= plotW, 0), leader: false };
    placed.push(found.box);
    out.push({ text: p.text, px: p.px, py: p.py, ...found });
  }
  return out;
}

/** The first free box: beside the point, then 1, 2, … label heights above or below; clear of the curve if possible. */
function search(
  boxAt: (right: boolean, dy: number) => Box,
  fits: (b: Box, avoidCurve: boolean) => boolean,
  pitch: number,
): { box: Box; leader: boolean } | undefined {
  for (const avoidCurve of [true, false])
    for (let step = 0; step <= 40; step++)
      for (const dir of step === 0 ? [0] : [-1, 1])
        for (const right of [true, false]) {
          const b = boxAt(right, dir * step * pitch);
          if (fits(b, avoidCurve)) return { box: b, leader: step > 0 };
        }
  return undefined;
}
