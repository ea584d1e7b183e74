// One filter at a time: clicking a filter (chart or table) maps the pixels that drive it alone;
// the clicked filters are kept as chips, for "zero the clicked ones".
import { api, attempt } from './api.js';
import { $, filterName, fmt, node, unitValue, unitWord, valueName } from './dom.js';
import { chart, isCurrent, state } from './state.js';
import { clickedChanged } from './zeroing.js';

let filterSeq = 0;

export function showFilterMap(r, f) {
  const img = $('map-filter');
  if (!r) {
    img.hidden = true;
    img.removeAttribute('src');
    const word = unitWord(state.model);
    img.alt = `No ${word} chosen`;
    $('map-filter-empty').hidden = false;
    $('map-filter-caption').textContent = `One ${word}'s input-space map`;
    return;
  }
  img.src = r.maps.pss;
  const kind = f.kind ?? 'filter';
  img.alt = `Input-space map of ${kind} ${filterName(f)} over ${state.image.name}: the pixels that drive this one ${kind}`;
  img.hidden = false;
  $('map-filter-empty').hidden = true;
  $('map-filter-caption').textContent =
    `${kind[0].toUpperCase()}${kind.slice(1)} ${filterName(f)} (${valueName(r)} = ${unitValue(r, f)}), boost ×${fmt(r.boost)}`;
}

export async function showFilter(index) {
  if (!state.result) return;
  if (!state.clicked.includes(index)) state.clicked.push(index);
  state.selected = index;
  chart.setPicked(state.clicked, index);
  renderClicked();
  const seq = ++filterSeq;
  const choice = state.choice;
  const boost = Number($('boost').value);
  const r = await attempt(() =>
    api('Mapping one filter', '/api/explain', {
      json: {
        model: state.model.id,
        image: state.image.ref,
        label: state.result.label,
        boost: Number.isFinite(boost) && $('boost').value.trim() !== '' ? boost : state.result.boost,
        filters: [index],
        profile: false,
        // its value as the explanation shown ranks it
        standardize: state.result.standardization === 'pot' ? 'pot' : 'z',
      },
    }),
  );
  if (!r || seq !== filterSeq || choice !== state.choice || !isCurrent(r)) return;
  showFilterMap(r, r.boosted[0]);
  clickedChanged();
}

function removeClicked(index) {
  state.clicked = state.clicked.filter((i) => i !== index);
  if (state.selected === index) {
    state.selected = null;
    showFilterMap(null);
  }
  chart.setPicked(state.clicked, state.selected);
  renderClicked();
  clickedChanged();
}

export function renderClicked() {
  $('clicked').replaceChildren(
    ...state.clicked.map((index) => {
      const unit = state.units.locate(index);
      return node(
        'span',
        { class: index === state.selected ? 'chip selected' : 'chip' },
        node(
          'button',
          { type: 'button', class: 'link', onclick: () => showFilter(index) },
          unit ? filterName(unit) : `#${index}`,
        ),
        node(
          'button',
          {
            type: 'button',
            class: 'remove',
            title: 'remove',
            ariaLabel: `remove ${unit ? filterName(unit) : `#${index}`}`,
            onclick: () => removeClicked(index),
          },
          '×',
        ),
      );
    }),
  );
  $('prune-clicked-n').textContent = String(state.clicked.length);
}
