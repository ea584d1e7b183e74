// "Zero these filters": the prediction with the top k or the clicked filters turned off — their
// whole output zero (weights and bias), as `pss prune` does; computed by the server.
import { api, attempt } from './api.js';
import { $, className, node, percent, renderBars, unitWord } from './dom.js';
import { isCurrent, state } from './state.js';

export const PRUNE_HINT =
  'Forward pass only: the prediction with those filters turned off (their output zero: weights and bias).';

export const pruneMode = () => document.querySelector('input[name="prune-mode"]:checked').value;
let pruneSeq = 0;

export function clearPrune() {
  $('pruned').textContent = PRUNE_HINT;
  $('pruned-top5').replaceChildren();
}

export async function updatePrune() {
  const r = state.result;
  const seq = ++pruneSeq;
  if (!$('prune-toggle').checked || !r) return clearPrune();
  const zero = pruneMode() === 'top' ? r.profile.top.map((t) => t.index) : state.clicked;
  const choice = state.choice;
  if (zero.length === 0) {
    $('pruned').textContent = 'No filters clicked yet: click filters in the chart (or choose the top k).';
    $('pruned-top5').replaceChildren();
    return;
  }
  const p = await attempt(() =>
    api('Predicting with filters zeroed', '/api/predict', {
      json: { model: state.model.id, image: state.image.ref, zero },
    }),
  );
  if (!p || seq !== pruneSeq || choice !== state.choice || !isCurrent(p)) return;
  const m = state.model;
  const before = r.probabilities.find((x) => x.class === r.predicted)?.probability;
  const after = p.probabilities.find((x) => x.class === r.predicted)?.probability;
  $('pruned').replaceChildren(
    node('span', {}, `With ${p.zeroed} ${unitWord(m)}${p.zeroed === 1 ? '' : 's'} zeroed: predicted `),
    node('strong', { id: 'pruned-class' }, className(m, p.predicted)),
    node('span', {}, ` at ${percent(p.probabilities[0].probability)}`),
    node(
      'span',
      { class: 'muted' },
      ` · ${className(m, r.predicted)}: ${percent(before)} → ${after === undefined ? '< top 5' : percent(after)}` +
        (p.predicted === r.predicted ? '' : ' — the prediction changed'),
    ),
  );
  renderBars($('pruned-top5'), p.probabilities, r.label);
}

/** Recomputes the zeroed prediction when it shows the clicked filters. */
export function clickedChanged() {
  if ($('prune-toggle').checked && pruneMode() === 'clicked') updatePrune();
}
