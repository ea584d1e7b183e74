// What the page knows: the loaded models, the chosen model and image, the last explanation, the
// clicked filters — and the chart drawing the profile. `choice` counts the user's choices of
// model or image: every asynchronous step checks, when its answer comes, that it still belongs
// to the current one (an upload's prediction must not land on an example clicked meanwhile).
import { FilterChart } from './chart.js';
import { $ } from './dom.js';
import { unitLookup } from './units.js';

export const state = {
  /** @type {Map<string, any>} loaded models by id */
  models: new Map(),
  model: null,
  /** the model the server starts with (never released) */
  initial: null,
  /** whether the page may name files on the server by path (--allow-paths) */
  allowPaths: false,
  /** the chosen model's unit table (unitLookup over the server's `units`) */
  units: unitLookup([]),
  /** {ref, name, label?} of the chosen image */
  image: null,
  /** the true label was not given: the prediction stands in, and the page says so */
  labelAssumed: false,
  /** the last full explanation */
  result: null,
  /** filter indices clicked in the chart (kept per model) */
  clicked: [],
  /** the clicked filter whose map is shown */
  selected: null,
  /** the standardisation chosen ('z' | 'pot'; the server's to start); a model without tails gets z */
  standardize: 'z',
  choice: 0,
};

/** A new choice of model or image; the returned function tells whether it is still current. */
export function newChoice() {
  const mine = ++state.choice;
  return () => mine === state.choice;
}

/** Whether an answer of the server is about the model and image chosen now. */
export const isCurrent = (r) =>
  Boolean(r && state.model && state.image && r.model === state.model.id && r.image === state.image.ref);

const picks = { onPick: (_index) => {} };

/** The profile chart; a click on a filter calls the handler given to onFilterPicked. */
export const chart = new FilterChart($('chart'), {
  onPick: (index) => picks.onPick(index),
  onFocus: (text) => {
    $('chart-focus').textContent = text;
  },
});

export function onFilterPicked(handler) {
  picks.onPick = handler;
}
