// The filter-saliency profile as an interactive SVG: every conv layer's filters sorted by value
// (z, POT's −log10 P, or raw saliency without statistics), largest first, layers side by side in model order —
// the layout of `pss explain`'s filter_saliency.png. Hover shows layer, filter and value;
// clicking a filter calls onPick(index). The top-k filters are orange dots, picked ones ringed.
// Filters are named by the server's unit table (units.js), never worked out here.

import { fmt } from './dom.js';
import { unitLookup } from './units.js';

/** Whether every unit of the table is a conv filter (the page then reads as it always did). */
const onlyFilters = (layers) => layers.every((l) => (l.kind ?? 'filter') === 'filter');

const SVG = 'http://www.w3.org/2000/svg';
const MARGIN = { left: 60, right: 14, top: 12 };
const PLOT_HEIGHT = 250;

function el(tag, attrs, parent) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

/**
 * About `count` round tick values covering [lo, hi], as whole multiples of the step (no
 * accumulated rounding: zero is exactly 0), with their labels at the step's precision.
 */
function ticks(lo, hi, count) {
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9) + (step / mag === 2.5 ? 1 : 0));
  const out = [];
  for (let i = Math.ceil(lo / step - 1e-9); i * step <= hi + step * 1e-9; i++) {
    const v = i * step;
    const big = Math.abs(v) >= 1e5;
    out.push({
      v,
      zero: i === 0,
      label: i === 0 ? '0' : big ? v.toExponential(1).replace('e+', 'e') : v.toFixed(Math.min(decimals, 6)),
    });
  }
  return out;
}

/** A layer name without a leading container ("features.denseblock1…" → "denseblock1…"; "features.0" stays). */
const shortName = (name) => name.replace(/^(features|module|model|backbone|body)\.(?=\D)/, '');

export class FilterChart {
  /**
   * @param {HTMLElement} container
   * @param {{ onPick: (index: number) => void }} handlers
   */
  constructor(container, handlers) {
    this.container = container;
    this.handlers = handlers;
    this.data = null;
    this.picked = [];
    this.selected = null;
    this.tooltip = document.createElement('div');
    this.tooltip.id = 'chart-tooltip';
    this.tooltip.className = 'tooltip';
    this.tooltip.hidden = true;
    container.appendChild(this.tooltip);
    // keyboard: the chart is one stop in the tab order; arrows move a cursor over the filters
    this.cursor = null;
    container.tabIndex = 0;
    container.setAttribute('role', 'application');
    container.setAttribute('aria-roledescription', 'filter saliency chart');
    container.setAttribute(
      'aria-label',
      'Filter saliency chart: left and right arrows move between filters, Enter maps the filter',
    );
    container.addEventListener('keydown', (e) => this.key(e));
    container.addEventListener('focus', () => {
      if (this.data) this.moveCursor(this.cursor ?? this.data.pos[this.data.top[0]?.index ?? 0]);
    });
    container.addEventListener('blur', () => this.hideHover());
    let width = 0;
    new ResizeObserver(() => {
      if (this.data && container.clientWidth !== width) {
        width = container.clientWidth;
        this.render();
      }
    }).observe(container);
  }

  /**
   * @param {{layers: {name: string, offset: number, filters: number}[], values: (number|null)[], standardized: boolean, aggregation: string, top: {index: number}[], pot?: {quantile: number, cap: number} | null}} data
   *   with `pot`, values are −log10 P, POT's cap standing for P = 0 (beyond every validation value)
   */
  setData(data) {
    const { layers, values } = data;
    // order[pos] = filter index at that position; pos[index] = its position.
    const order = new Int32Array(values.length);
    const pos = new Int32Array(values.length);
    const rank = new Int32Array(values.length);
    const key = (i) => (values[i] === null ? Number.NEGATIVE_INFINITY : values[i]);
    for (const l of layers) {
      const idx = Array.from({ length: l.filters }, (_, j) => l.offset + j).sort(
        (a, b) => key(b) - key(a) || a - b,
      );
      idx.forEach((index, r) => {
        order[l.offset + r] = index;
        pos[index] = l.offset + r;
        rank[index] = r;
      });
    }
    this.data = { ...data, order, pos, rank, units: unitLookup(layers) };
    this.render();
  }

  /** Removes the chart (a new model or image is on its way). */
  clear() {
    this.data = null;
    this.cursor = null;
    for (const old of this.container.querySelectorAll('svg')) old.remove();
    this.tooltip.hidden = true;
  }

  /** The filters picked by clicks (ringed), and the one whose map is shown (filled). */
  setPicked(picked, selected) {
    this.picked = picked;
    this.selected = selected;
    if (this.data) this.drawPicked();
  }

  /** What the tooltip says about a filter (named by the server's unit table, data.layers). */
  describe(index) {
    const d = this.data;
    const unit = d.units.locate(index);
    return { ...unit, value: d.values[index], rank: d.rank[index] + 1 };
  }

  render() {
    const d = this.data;
    for (const old of this.container.querySelectorAll('svg')) old.remove();
    this.tooltip.hidden = true;
    // the container's width, whatever the screen (a phone's too): the chart never overflows it
    const width = Math.max(this.container.clientWidth || 600, 240);
    const plotW = width - MARGIN.left - MARGIN.right;
    const plotH = PLOT_HEIGHT;
    // room for the layer names, written at 40° below the plot (about 6 px per character)
    const longest = Math.max(...d.layers.map((l) => shortName(l.name).length));
    const height =
      MARGIN.top + plotH + 16 + Math.ceil(Math.min(longest, 28) * 6 * Math.sin((40 * Math.PI) / 180));
    const n = d.values.length;
    let lo = 0;
    let hi = 0;
    for (const v of d.values)
      if (v !== null) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    const span = hi - lo || 1;
    lo -= 0.04 * span;
    hi += 0.08 * span;
    const x = (p) => MARGIN.left + ((p + 0.5) / n) * plotW;
    const y = (v) => MARGIN.top + ((hi - v) / (hi - lo)) * plotH;
    this.geometry = { x, y, plotW, plotH, n };

    const what = d.pot
      ? `POT, −log10 P at q = ${d.pot.quantile}`
      : d.standardized
        ? 'z-scores'
        : `raw saliency (${d.aggregation}, no statistics)`;
    const svg = el('svg', {
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-label': onlyFilters(d.layers)
        ? `Filter saliency (${what}) of ${n} filters in ${d.layers.length} conv layers`
        : `Unit saliency (${what}) of ${n} units in ${d.layers.length} layers`,
    });
    this.svg = svg;

    // y grid, ticks and title
    const axis = el('g', { class: 'axis' }, svg);
    for (const t of ticks(lo, hi, 6)) {
      el(
        'line',
        { x1: MARGIN.left, x2: MARGIN.left + plotW, y1: y(t.v), y2: y(t.v), class: t.zero ? 'zero' : 'grid' },
        axis,
      );
      const label = el(
        'text',
        { x: MARGIN.left - 6, y: y(t.v), 'text-anchor': 'end', 'dominant-baseline': 'middle' },
        axis,
      );
      label.textContent = t.label;
    }
    const title = el(
      'text',
      { x: 14, y: MARGIN.top + plotH / 2, 'text-anchor': 'middle', class: 'title' },
      axis,
    );
    title.setAttribute('transform', `rotate(-90 14 ${MARGIN.top + plotH / 2})`);
    title.textContent = d.pot ? '−log10 P (POT)' : d.standardized ? 'z-score' : `saliency (${d.aggregation})`;

    // layer boundaries, and names: stage starts first, then block starts, then the widest
    // layers, at least 19 px apart (the names are parallel lines at 40°)
    const layersG = el('g', { class: 'layers' }, svg);
    d.layers.forEach((l, i) => {
      const x0 = MARGIN.left + (l.offset / n) * plotW;
      if (i > 0)
        el('line', { x1: x0, x2: x0, y1: MARGIN.top, y2: MARGIN.top + plotH, class: 'boundary' }, layersG);
    });
    const level = (i) => {
      if (i === 0) return 0;
      const [a, b] = [d.layers[i - 1], d.layers[i]].map((l) => shortName(l.name).split('.'));
      return a[0] !== b[0] ? 0 : a.slice(0, 2).join('.') !== b.slice(0, 2).join('.') ? 1 : 2;
    };
    const candidates = d.layers
      .map((l, i) => ({ l, level: level(i), at: MARGIN.left + ((l.offset + l.filters / 2) / n) * plotW }))
      .sort((a, b) => a.level - b.level || b.l.filters - a.l.filters);
    const placed = [];
    const ty = MARGIN.top + plotH + 8;
    for (const { l, at } of candidates) {
      const full = shortName(l.name);
      const name = full.length > 28 ? `${full.slice(0, 27)}…` : full;
      if (at - name.length * 6 * Math.cos((40 * Math.PI) / 180) < 0) continue; // would leave the figure
      if (placed.some((x) => Math.abs(x - at) < 19)) continue;
      placed.push(at);
      const t = el(
        'text',
        { x: at, y: ty, 'text-anchor': 'end', transform: `rotate(-40 ${at} ${ty})` },
        layersG,
      );
      t.textContent = name;
    }
    el('rect', { x: MARGIN.left, y: MARGIN.top, width: plotW, height: plotH, class: 'frame' }, svg);

    // the profile, one path per layer
    const path = [];
    for (const l of d.layers) {
      let pen = 'M';
      for (let p = l.offset; p < l.offset + l.filters; p++) {
        const v = d.values[d.order[p]];
        if (v === null) {
          pen = 'M';
          continue;
        }
        path.push(`${pen}${x(p).toFixed(1)},${y(v).toFixed(1)}`);
        pen = 'L';
      }
    }
    el('path', { d: path.join(''), class: 'profile' }, svg);

    // hover target (under the dots, so that the dots take their own events)
    const hit = el('rect', { x: MARGIN.left, y: MARGIN.top, width: plotW, height: plotH, class: 'hit' }, svg);
    this.hover = el('circle', { r: 5, class: 'hover', visibility: 'hidden' }, svg);
    const tops = el('g', { class: 'tops' }, svg);
    for (const t of d.top) {
      const v = d.values[t.index];
      if (v === null) continue;
      el('circle', { cx: x(d.pos[t.index]), cy: y(v), r: 4.5, class: 'top', 'data-index': t.index }, tops);
    }
    this.pickedG = el('g', { class: 'picked' }, svg);
    this.drawPicked();

    const pointer = (e) => {
      const target = e.target.closest?.('[data-index]');
      if (target) return Number(target.getAttribute('data-index'));
      const box = svg.getBoundingClientRect();
      return this.nearest(e.clientX - box.left, e.clientY - box.top);
    };
    svg.addEventListener('pointermove', (e) => {
      if (e.target !== hit && !e.target.closest?.('[data-index]')) return this.hideHover();
      this.showHover(pointer(e));
    });
    svg.addEventListener('pointerleave', () => this.hideHover());
    svg.addEventListener('click', (e) => {
      if (e.target !== hit && !e.target.closest?.('[data-index]')) return;
      const index = pointer(e);
      if (index !== null) this.handlers.onPick(index);
    });
    this.container.insertBefore(svg, this.tooltip);
  }

  /** Arrow keys, Home/End and Enter/Space on the focused chart. */
  key(e) {
    if (!this.data) return;
    const n = this.data.values.length;
    const step = e.shiftKey ? 10 : 1;
    const at = this.cursor ?? 0;
    const moves = {
      ArrowRight: at + step,
      ArrowLeft: at - step,
      ArrowUp: at + step,
      ArrowDown: at - step,
      Home: 0,
      End: n - 1,
    };
    if (e.key in moves) {
      e.preventDefault();
      this.moveCursor(Math.max(0, Math.min(n - 1, moves[e.key])));
    } else if ((e.key === 'Enter' || e.key === ' ') && this.cursor !== null) {
      e.preventDefault();
      this.handlers.onPick(this.data.order[this.cursor]);
    }
  }

  /** Puts the keyboard cursor on a position (sorted order) and says which filter it is. */
  moveCursor(pos) {
    this.cursor = pos;
    const index = this.data.order[pos];
    this.showHover(index);
    const info = this.describe(index);
    this.handlers.onFocus?.(
      `${info.layer} ${info.kind} ${info.filter}: ${this.valueText(info.value, ' ')}, rank ${info.rank} of ${info.of}`,
    );
  }

  /** "z = 2.5", "−log10 P = 7.1", "−log10 P ≥ 400" (POT's cap: P = 0, or below 10^−400). */
  valueText(v, equals = ' = ') {
    const d = this.data;
    if (d.pot) return v >= d.pot.cap ? `−log10 P ≥ ${fmt(d.pot.cap)}` : `−log10 P${equals}${fmt(v)}`;
    return `${d.standardized ? 'z' : 'saliency'}${equals}${fmt(v)}`;
  }

  drawPicked() {
    const d = this.data;
    const { x, y } = this.geometry;
    this.pickedG.replaceChildren();
    for (const index of this.picked) {
      const v = d.values[index];
      if (v === null) continue;
      el(
        'circle',
        {
          cx: x(d.pos[index]),
          cy: y(v),
          r: 7,
          class: index === this.selected ? 'pick selected' : 'pick',
          'data-index': index,
        },
        this.pickedG,
      );
    }
  }

  /** The filter under the pointer: within the pixel column, the point nearest in height. */
  nearest(px, py) {
    const d = this.data;
    const { x, y, plotW, n } = this.geometry;
    const f = ((px - MARGIN.left) / plotW) * n - 0.5;
    const half = Math.max(0.5, (n / plotW) * 1.5);
    const from = Math.max(0, Math.floor(f - half));
    const to = Math.min(n - 1, Math.ceil(f + half));
    let best = null;
    let bestD = Number.POSITIVE_INFINITY;
    for (let p = from; p <= to; p++) {
      const v = d.values[d.order[p]];
      if (v === null) continue;
      const dist = Math.hypot(x(p) - px, y(v) - py);
      if (dist < bestD) {
        bestD = dist;
        best = d.order[p];
      }
    }
    return best;
  }

  showHover(index) {
    if (index === null) return this.hideHover();
    const d = this.data;
    const { x, y } = this.geometry;
    const info = this.describe(index);
    const cx = x(d.pos[index]);
    const cy = y(info.value);
    this.hover.setAttribute('cx', cx);
    this.hover.setAttribute('cy', cy);
    this.hover.setAttribute('visibility', 'visible');
    const tip = this.tooltip;
    tip.replaceChildren();
    const head = document.createElement('strong');
    head.textContent = `${info.layer} · ${info.kind} ${info.filter}`;
    const body = document.createElement('div');
    body.textContent = `${this.valueText(info.value)} · rank ${info.rank} of ${info.of} in the layer`;
    const hint = document.createElement('div');
    hint.className = 'muted';
    hint.textContent = `click: the pixels that drive this ${info.kind}`;
    tip.append(head, body, hint);
    tip.dataset.index = String(index);
    tip.hidden = false;
    const width = this.svg.clientWidth;
    tip.style.left = `${Math.max(0, Math.min(cx + 12, width - 260))}px`;
    tip.style.top = `${Math.max(cy - 56, 0)}px`;
  }

  hideHover() {
    this.hover?.setAttribute('visibility', 'hidden');
    this.tooltip.hidden = true;
  }
}
