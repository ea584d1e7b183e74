// The explorer page: models and images, and the wiring of the controls. No framework, no build
// step; all computation happens on the server. The parts: api.js (requests, activity, errors),
// dom.js (helpers), state.js (what the page knows, the chart), units.js (the server's unit
// table), explain.js (the explanation), filters.js (one filter's map, the clicked filters),
// zeroing.js (the prediction with filters turned off), chart.js (the SVG profile).
import { api, attempt, clearError, showError } from './api.js';
import { $, node } from './dom.js';
import { clearResults, explainNow } from './explain.js';
import { renderClicked, showFilter } from './filters.js';
import { onFilterPicked, state } from './state.js';
import { unitLookup } from './units.js';
import { updatePrune } from './zeroing.js';

onFilterPicked((index) => showFilter(index));

// --------------------------------------------------------------------------------- models

function renderModelSelect() {
  const select = $('model-select');
  select.replaceChildren(
    ...[...state.models.values()].map((m) => node('option', { value: m.id, textContent: m.title })),
  );
  if (state.model) select.value = state.model.id;
}

function setModel(info) {
  state.models.set(info.id, info);
  const changed = state.model?.id !== info.id;
  state.model = info;
  state.units = unitLookup(info.units);
  renderModelSelect();
  const stats = info.statistics
    ? `z-scores against ${info.statistics.count.toLocaleString()} validation images (${info.statistics.file})`
    : 'no statistics: raw saliency, not z-scores';
  $('model-info').textContent =
    `${info.name}: ${info.layerCount} conv layers, ${info.filterCount.toLocaleString()} filters, ` +
    `input ${info.inputShape.join('×')}, ${info.numClasses} classes; ${stats}.`;
  $('model-notes').replaceChildren(...info.notes.map((n) => node('li', {}, n)));
  $('k').max = String(info.filterCount);
  const labels = $('label');
  const names = info.classNames ?? Array.from({ length: info.numClasses }, (_, i) => `class ${i}`);
  labels.replaceChildren(
    ...names.map((n, i) =>
      node('option', { value: String(i), textContent: info.classNames ? `${n} (${i})` : n }),
    ),
  );
  renderExamples();
  if (changed) {
    state.clicked = [];
    state.selected = null;
    state.result = null;
    renderClicked();
    if (state.image?.ref.startsWith('upload:')) chooseImage(state.image);
    else {
      const example = info.examples.find((e) => e.default) ?? info.examples[0];
      state.image = null;
      clearResults();
      if (example) chooseExample(example);
    }
  }
}

function renderExamples() {
  const examples = state.model.examples;
  $('examples').replaceChildren(
    ...(examples.length
      ? examples.map((e) =>
          node(
            'button',
            {
              type: 'button',
              class: state.image?.ref === `example:${e.file}` ? 'example chosen' : 'example',
              title: `${e.labelName ?? e.label}${e.predictedName && e.predictedName !== e.labelName ? ` → predicted ${e.predictedName}` : ''}`,
              dataset: { file: e.file },
              onclick: () => chooseExample(e),
            },
            node('img', { src: e.url, alt: e.file }),
            node('span', {}, e.labelName ?? String(e.label)),
          ),
        )
      : [node('p', { class: 'muted small' }, 'No shipped examples for this model: drop an image above.')]),
  );
}

async function loadZoo(event) {
  event.preventDefault();
  const weights = $('zoo-weights').value.trim();
  const stats = $('zoo-stats').value.trim();
  const arch = $('zoo-arch').value;
  await attempt(async () => {
    const info = await api(`Loading ${arch}`, '/api/models', {
      json: { arch, ...(weights && { weights }), ...(stats && { stats }) },
    });
    clearError();
    $('load-model').open = false;
    setModel(info);
  });
}

async function uploadOnnx(file) {
  await attempt(async () => {
    const info = await api(`Importing ${file.name}`, '/api/models/onnx', {
      body: file,
      query: { name: file.name },
    });
    clearError();
    $('load-model').open = false;
    setModel(info);
  });
}

// --------------------------------------------------------------------------------- images

function chooseExample(e) {
  chooseImage({ ref: `example:${e.file}`, name: e.file, label: e.label });
}

async function uploadImage(file) {
  await attempt(async () => {
    const img = await api(`Uploading ${file.name}`, '/api/images', {
      body: file,
      query: { name: file.name },
    });
    clearError();
    await chooseImage({ ref: img.id, name: img.name });
  });
}

/** A new image: its prediction first (the label defaults to it when unknown), then the explanation. */
async function chooseImage(image) {
  state.image = image;
  state.selected = null;
  renderExamples();
  clearResults();
  if (image.label !== undefined) $('label').value = String(image.label);
  else {
    const p = await attempt(() =>
      api('Predicting', '/api/predict', { json: { model: state.model.id, image: image.ref } }),
    );
    if (!p) return;
    $('label').value = String(p.predicted);
  }
  await explainNow();
}

function dropped(files) {
  const file = files?.[0];
  if (!file) return;
  if (/\.onnx$/i.test(file.name)) uploadOnnx(file);
  else uploadImage(file);
}

// ---------------------------------------------------------------------------------- start

async function start() {
  const s = await attempt(() => api('Connecting', '/api/state'));
  if (!s) return;
  $('zoo-arch').replaceChildren(
    ...s.architectures.map((a) =>
      node('option', {
        value: a.name,
        textContent: `${a.name}${a.bundled ? ' (bundled weights)' : a.cached ? ` (${a.cached} cached)` : ''}`,
        dataset: { cached: a.cached ?? '' },
      }),
    ),
  );
  $('zoo-arch').addEventListener('change', () => {
    const cached = $('zoo-arch').selectedOptions[0]?.dataset.cached;
    if (cached) $('zoo-weights').value = cached;
  });
  for (const m of s.models) state.models.set(m.id, m);
  setModel(state.models.get(s.initial));
}

$('error-close').addEventListener('click', clearError);
$('model-select').addEventListener('change', (e) => setModel(state.models.get(e.target.value)));
$('zoo-form').addEventListener('submit', loadZoo);
$('onnx-file').addEventListener('change', (e) => {
  if (e.target.files[0]) uploadOnnx(e.target.files[0]);
  e.target.value = '';
});
$('image-file').addEventListener('change', (e) => {
  if (e.target.files[0]) uploadImage(e.target.files[0]);
  e.target.value = '';
});
$('run').addEventListener('click', explainNow);
$('label').addEventListener('change', explainNow);
for (const id of ['k', 'boost'])
  $(id).addEventListener('change', () => {
    if ($(id).checkValidity()) explainNow();
    else
      showError(
        `${id} must be ${id === 'k' ? `an integer from 1 to ${state.model.filterCount}` : 'a number ≥ 0'}`,
      );
  });
$('prune-toggle').addEventListener('change', updatePrune);
for (const radio of document.querySelectorAll('input[name="prune-mode"]'))
  radio.addEventListener('change', updatePrune);

// Files dropped anywhere on the page: images are explained, .onnx files loaded.
const drop = $('drop');
window.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
window.addEventListener('dragleave', (e) => {
  if (e.relatedTarget === null) drop.classList.remove('over');
});
window.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  dropped(e.dataTransfer?.files);
});

start();
