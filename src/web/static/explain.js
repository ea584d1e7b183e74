// The explanation of the chosen image: prediction and top 5, the four maps, the filter profile
// and its top-k table.
import { api, attempt, clearError } from './api.js';
import { $, className, fmt, node, percent, renderBars } from './dom.js';
import { showFilter, showFilterMap } from './filters.js';
import { chart, state } from './state.js';
import { clearPrune, updatePrune } from './zeroing.js';

let explainSeq = 0;

export function clearResults() {
  $('prediction').className = 'muted';
  $('prediction').textContent = state.image ? `${state.image.name}` : 'Choose an image.';
  $('top5').replaceChildren();
  chart.clear();
  $('top-table').tBodies[0].replaceChildren();
  $('map-pss-caption').textContent = 'Input-space saliency: top-k filters';
  $('map-cam-predicted-caption').textContent = 'Grad-CAM, predicted class';
  $('map-cam-true-caption').textContent = 'Grad-CAM, true class';
  for (const id of ['map-input', 'map-pss', 'map-cam-predicted', 'map-cam-true'])
    $(id).removeAttribute('src');
  showFilterMap(null);
  clearPrune();
}

export async function explainNow() {
  if (!state.model || !state.image) return;
  const seq = ++explainSeq;
  const request = {
    model: state.model.id,
    image: state.image.ref,
    label: Number($('label').value),
    k: Number($('k').value),
    boost: Number($('boost').value),
  };
  const r = await attempt(() => api(`Explaining ${state.image.name}`, '/api/explain', { json: request }));
  if (!r || seq !== explainSeq) return;
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
  p.replaceChildren(
    node('span', {}, 'True: '),
    node('strong', { id: 'true-class' }, className(m, r.label)),
    node('span', {}, ' · predicted: '),
    node('strong', { id: 'predicted-class' }, className(m, r.predicted)),
    node('span', {}, ` at ${percent(r.probabilities[0].probability)} — `),
    node('span', { class: 'verdict' }, wrong ? 'misclassified' : 'correct'),
    node('span', { class: 'muted' }, ` · loss ${r.loss.toFixed(3)} · ${(r.elapsedMs / 1000).toFixed(2)} s`),
  );
  renderBars($('top5'), r.probabilities, r.label);
}

function renderMaps(r) {
  const m = state.model;
  $('map-input').src = r.maps.input;
  $('map-pss').src = r.maps.pss;
  $('map-cam-predicted').src = r.maps.gradcamPredicted;
  $('map-cam-true').src = r.maps.gradcamTrue;
  $('map-pss-caption').textContent =
    `Input-space saliency: top ${r.boosted.length} filters, boost ×${r.boost}`;
  $('map-cam-predicted-caption').textContent = `Grad-CAM, predicted: ${className(m, r.predicted)}`;
  $('map-cam-true-caption').textContent = `Grad-CAM, true: ${className(m, r.label)}`;
}

function renderProfile(r) {
  const p = r.profile;
  chart.setData({ ...p, standardized: r.standardized, top: p.top });
  chart.setPicked(state.clicked, state.selected);
  $('top-value-head').textContent = r.standardized ? 'z' : 'saliency';
  $('chart-caption').textContent = r.standardized
    ? "Each conv layer's filters sorted by z, largest first; hover a filter for its layer and z, click it for the pixels that drive it. Orange: the top k."
    : "No statistics for this model: raw saliency (not z-scores), each layer's filters sorted, largest first. Hover a filter, click it for its map. Orange: the top k.";
  $('top-table').tBodies[0].replaceChildren(
    ...p.top.map((t, i) =>
      node(
        'tr',
        { dataset: { index: String(t.index) } },
        node('td', {}, String(i + 1)),
        node('td', {}, t.layer),
        node('td', {}, String(t.filter)),
        node('td', {}, fmt(t.z ?? t.saliency)),
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
