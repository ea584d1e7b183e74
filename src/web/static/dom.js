// Small DOM and formatting helpers shared by the page's modules.

export const $ = (id) => document.getElementById(id);

/** An element with properties (class, on<event>, dataset, others as-is) and children. */
export function node(tag, props = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') n.className = v;
    else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(n.dataset, v);
    else n[k] = v;
  }
  n.append(...children.filter((c) => c !== undefined && c !== null));
  return n;
}

export const percent = (p) => `${(100 * p).toFixed(p >= 0.9995 || p < 0.001 ? 2 : 1)}%`;
export const className = (model, c) => (model?.classNames ? `${model.classNames[c]} (${c})` : `class ${c}`);
export const filterName = (f) => `${f.layer} #${f.filter}`;
/** A number for people: 3 significant digits, thousands separated, exponents only for the very large or small. */
export function fmt(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e6 || a < 1e-4) return v.toExponential(2).replace('e+', 'e');
  if (a >= 1000 || Number.isInteger(v)) return Math.round(v).toLocaleString('en-US');
  return String(Number(v.toPrecision(3)));
}
/** What an explanation's profile values are: POT's −log10 P, z-scores, or raw saliency. */
export const valueName = (r) =>
  r?.standardization === 'pot' ? '−log10 P' : r?.standardized ? 'z' : 'saliency';
/** A unit's value as the explanation ranks it (POT: −log10 P, ∞ where P = 0), for people. */
export const unitValue = (r, u) =>
  r?.standardization === 'pot' ? (u.pot === null ? '∞' : fmt(u.pot)) : fmt(u.z ?? u.saliency);
/** A count with thousands separators. */
export const fmtCount = (n) => n.toLocaleString('en-US');

/** What one unit of a model (its info) is called: "filter" under --units filters (the default), else "unit". */
export const unitWord = (m) => (m?.unitSet && m.unitSet !== 'filters' ? 'unit' : 'filter');

/** A top-5 list as labelled bars. */
export function renderBars(list, probabilities, highlight) {
  list.replaceChildren(
    ...probabilities.map((p) => {
      const bar = node('span', { class: 'fill' });
      bar.style.width = `${Math.max(0.5, 100 * p.probability)}%`;
      return node(
        'li',
        { class: p.class === highlight ? 'true-class' : '', dataset: { class: String(p.class) } },
        node('span', { class: 'name' }, p.name ?? `class ${p.class}`),
        node('span', { class: 'bar' }, bar),
        node('span', { class: 'p' }, percent(p.probability)),
      );
    }),
  );
}
