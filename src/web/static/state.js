// What the page knows: the loaded models, the chosen model and image, the last explanation, the
// clicked filters — and the chart drawing the profile.
import { FilterChart } from './chart.js';
import { $ } from './dom.js';
import { unitLookup } from './units.js';

export const state = {
  /** @type {Map<string, any>} loaded models by id */
  models: new Map(),
  model: null,
  /** the chosen model's unit table (unitLookup over the server's `units`) */
  units: unitLookup([]),
  /** {ref, name} of the chosen image */
  image: null,
  /** the last full explanation */
  result: null,
  /** filter indices clicked in the chart (kept per model) */
  clicked: [],
  /** the clicked filter whose map is shown */
  selected: null,
};

const picks = { onPick: (_index) => {} };

/** The profile chart; a click on a filter calls the handler given to onFilterPicked. */
export const chart = new FilterChart($('chart'), { onPick: (index) => picks.onPick(index) });

export function onFilterPicked(handler) {
  picks.onPick = handler;
}
