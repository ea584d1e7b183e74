// The explanation of the chosen image: prediction and top 5, the four maps, the filter profile
// and its top-k table.
import { api, attempt, clearError } from './api.js';
import { $, className, fmt, node, percent, renderBars, unitValue, unitWord, valueName } from './dom.js';
import { showFilter, showFilterMap } from './filters.js';
import { chart, isCurrent, state } from './state.js';
import { clearPrune, updatePrune } from './zeroing.js';

let explainSeq = 0;

export function clearResults() {
  $('prediction').className = 'muted';
  $('prediction').textContent = state.image ? `${state.image.name}` : 'Choose an image.';
  $('top5').replaceChildren();
  chart.clear();
  $('top-table').tBodies[0].replaceChildren();
  $('map-pss-caption').textContent = `Input-space saliency: top-k ${unitWord(state.model)}s`;
  $('map-cam-predicted-caption').textContent = 'Grad-CAM, predicted class';
  $('map-cam-true-caption').textContent = 'Grad-CAM, true class';
  for (const id of ['map-input', 'map-pss', 'map-cam-predicted', 'map-cam-true']) {
    $(id).removeAttribute('src');
    $(id).alt = state.image ? `Waiting for the explanation of ${state.image.name}` : 'Nothing chosen yet';
  }
  showFilterMap(null);
  clearPrune();
}

/** One field's check: the message beside it, and aria-invalid; true when it is valid. */
function check(id, ok, message) {
  $(id).setAttribute('aria-invalid', String(!ok));
  $(`${id}-message`).textContent = ok ? '' : message;
  $(`${id}-message`).hidden = ok;
  return ok;
}

/** k and boost as numbers, or null (each wrong field says why beside it). */
export function readSettings() {
  const kText = $('k').value.trim();
  const boostText = $('boost').value.trim();
  const k = Number(kText);
  const boost = Number(boostText);
  const max = state.model?.unitCount ?? 1;
  const kOk = check(
    'k',
    kText !== '' && Number.isInteger(k) && k >= 1 && k <= max,
    `k must be a whole number from 1 to ${max}`,
  );
  const boostOk = check(
    'boost',
    boostText !== '' && Number.isFinite(boost) && boost >= 0 && boost <= 1e6,
    'boost must be a number from 0 to 1,000,000',
  );
  return kOk && boostOk ? { k, boost } : null;
}

export async function explainNow() {
  if (!state.model || !state.image) return;
  const settings = readSettings();
  if (!settings) return;
  const seq = ++explainSeq;
  const choice = state.choice;
  const request = {
    model: state.model.id,
    image: state.image.ref,
    label: Number($('label').value),
    ...settings,
    standardize: $('standardize').value,
  };
  const r = await attempt(() => api(`Explaining ${state.image.name}`, '/api/explain', { json: request }));
  // a later explanation, another image or model: this answer is no longer wanted
  if (!r || seq !== explainSeq || choice !== state.choice || !isCurrent(r)) return;
  clearError();
  state.result = r;
  renderPrediction(r);
  renderMaps(r);
  renderProfile(r);
  if (state.selected !== null) showFilter(state.selected);
  if ($('prune-toggle').checked) updatePrune();
}

function renderPrediction(r) {
  const m = state.model;
  const wrong = r.predicted !== r.label;
  const p = $('prediction');
  p.className = wrong ? 'wrong' : 'right';
  const time = `${(r.elapsedMs / 1000).toFixed(2)} s`;
  if (state.labelAssumed) {
    // no label given: nothing to judge, and the page says what stands in for it
    p.className = 'assumed';
    p.replaceChildren(
      node('span', {}, 'True: '),
      node('strong', { id: 'true-class' }, 'not given'),
      node(
        'span',
        { class: 'muted' },
        ` (assumed: the prediction, ${className(m, r.label)} — set the true label)`,
      ),
      node('span', {}, ' · predicted: '),
      node('strong', { id: 'predicted-class' }, className(m, r.predicted)),
      node('span', {}, ` at ${percent(r.probabilities[0].probability)}`),
      node('span', { class: 'muted' }, ` · ${time}`),
    );
  } else
    p.replaceChildren(
      node('span', {}, 'True: '),
      node('strong', { id: 'true-class' }, className(m, r.label)),
      node('span', {}, ' · predicted: '),
      node('strong', { id: 'predicted-class' }, className(m, r.predicted)),
      node('span', {}, ` at ${percent(r.probabilities[0].probability)} — `),
      node('span', { class: 'verdict' }, wrong ? 'misclassified' : 'correct'),
      node('span', { class: 'muted' }, ` · loss ${fmt(r.loss)} · ${time}`),
    );
  renderBars($('top5'), r.probabilities, r.label);
}

function renderMaps(r) {
  const m = state.model;
  $('map-input').src = r.maps.input;
  $('map-pss').src = r.maps.pss;
  $('map-cam-predicted').src = r.maps.gradcamPredicted;
  $('map-cam-true').src = r.maps.gradcamTrue;
  const name = state.image.name;
  const truth = state.labelAssumed
    ? `the assumed label ${className(m, r.label)}`
    : `the true class ${className(m, r.label)}`;
  $('map-input').alt = `${name} as the model sees it (${m.inputShape.slice(1).join('×')} pixels)`;
  $('map-pss').alt =
    `Input-space saliency of ${name}: the pixels that drive the top ${r.boosted.length} filters, as a heat map over the image`;
  $('map-cam-predicted').alt =
    `Grad-CAM of ${name} for the predicted class ${className(m, r.predicted)}, as a heat map over the image`;
  $('map-cam-true').alt = `Grad-CAM of ${name} for ${truth}, as a heat map over the image`;
  $('map-pss-caption').textContent =
    `Input-space saliency: top ${r.boosted.length} filters${r.pot ? ' by POT' : ''}, boost ×${fmt(r.boost)}`;
  $('map-cam-predicted-caption').textContent = `Grad-CAM, predicted: ${className(m, r.predicted)}`;
  $('map-cam-true-caption').textContent =
    `Grad-CAM, ${state.labelAssumed ? 'assumed' : 'true'}: ${className(m, r.label)}`;
}

/** The kinds a unit table holds, in words: "filters, neurons". */
const unitKinds = (layers) =>
  [...new Set(layers.map((l) => l.kind ?? 'filter'))]
    .map((k) => (k === 'head' ? 'head units' : `${k}s`))
    .join(', ');

function renderProfile(r) {
  const p = r.profile;
  chart.setData({ ...p, standardized: r.standardized, top: p.top, pot: r.pot });
  chart.setPicked(state.clicked, state.selected);
  $('top-value-head').textContent = valueName(r);
  const filters = p.layers.every((l) => (l.kind ?? 'filter') === 'filter');
  $('chart-caption').textContent = r.pot
    ? `Each layer's ${filters ? 'filters' : `units (${unitKinds(p.layers)})`} sorted by −log10 P, P being POT's tail probability (q = ${r.pot.quantile}): the largest, the least probable, first; hover for the value, click for the pixels that drive it. Orange: the top k, smallest P.`
    : filters
      ? r.standardized
        ? "Each conv layer's filters sorted by z, largest first; hover a filter for its layer and z, click it for the pixels that drive it. Orange: the top k."
        : "No statistics for this model: raw saliency (not z-scores), each layer's filters sorted, largest first. Hover a filter, click it for its map. Orange: the top k."
      : `Each layer's units (${unitKinds(p.layers)}) sorted by ${r.standardized ? 'z' : 'raw saliency (no statistics)'}, largest first; hover a unit for its layer, kind and value, click it for the pixels that drive it. Orange: the top k.`;
  $('top-table').tBodies[0].replaceChildren(
    ...p.top.map((t, i) =>
      node(
        'tr',
        { dataset: { index: String(t.index) } },
        node('td', {}, String(i + 1)),
        node('td', {}, t.kind && t.kind !== 'filter' ? `${t.layer} (${t.kind})` : t.layer),
        node('td', {}, String(t.filter)),
        node('td', {}, unitValue(r, t)),
        node(
          'td',
          {},
          node('button', { type: 'button', class: 'link', onclick: () => showFilter(t.index) }, 'map'),
        ),
      ),
    ),
  );
  $('prune-top-n').textContent = String(p.top.length);
}
