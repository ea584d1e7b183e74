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
export const fmt = (v) =>
  v === null || v === undefined
    ? 'n/a'
    : Math.abs(v) >= 1000 || (v !== 0 && Math.abs(v) < 0.01)
      ? v.toExponential(2)
      : v.toFixed(2);

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
