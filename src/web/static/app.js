// The explorer page: images and the wiring of the controls. No framework, no build step; all
// computation happens on the server. The parts: api.js (requests, activity, errors), dom.js
// (helpers), state.js (what the page knows, the chart), models.js (the model panel), units.js
// (the server's unit table), explain.js (the explanation), filters.js (one filter's map, the
// clicked filters), zeroing.js (the prediction with filters turned off), chart.js (the SVG profile).
import { api, attempt, clearError, onFailure } from './api.js';
import { $, node } from './dom.js';
import { clearResults, explainNow, readSettings } from './explain.js';
import { renderClicked, showFilter } from './filters.js';
import { initModels, onModelChanged, refreshModels, uploadOnnx } from './models.js';
import { newChoice, onFilterPicked, state } from './state.js';
import { updatePrune } from './zeroing.js';

onFilterPicked((index) => showFilter(index));

// A model the server no longer holds (released to make room): the list follows the server.
onFailure((e) => {
  if (e.status === 404 && /is not loaded/.test(e.message)) refreshModels();
});

onModelChanged((info) => {
  state.clicked = [];
  state.selected = null;
  state.result = null;
  renderClicked();
  renderExamples();
  if (state.image?.ref.startsWith('upload:')) chooseImage({ ...state.image });
  else {
    const example = info.examples.find((e) => e.default) ?? info.examples[0];
    state.image = null;
    clearResults();
    if (example) chooseExample(example);
  }
});

// --------------------------------------------------------------------------------- images

function renderExamples() {
  const examples = state.model.examples;
  $('examples').replaceChildren(
    ...(examples.length
      ? examples.map((e) => {
          const truth = e.labelName ?? `class ${e.label}`;
          const predicted =
            e.predictedName && e.predictedName !== e.labelName ? `, predicted ${e.predictedName}` : '';
          return node(
            'button',
            {
              type: 'button',
              class: state.image?.ref === `example:${e.file}` ? 'example chosen' : 'example',
              title: `${truth}${predicted}`,
              ariaLabel: `Example: ${truth}${predicted}`,
              ariaPressed: String(state.image?.ref === `example:${e.file}`),
              dataset: { file: e.file },
              onclick: () => chooseExample(e),
            },
            node('img', { src: e.url, alt: '' }),
            node('span', {}, e.labelName ?? String(e.label)),
          );
        })
      : [
          node(
            'p',
            { class: 'muted small' },
            'No shipped examples for this model: choose or drop an image above.',
          ),
        ]),
  );
}

function chooseExample(e) {
  chooseImage({ ref: `example:${e.file}`, name: e.file, label: e.label });
}

async function uploadImage(file) {
  const mine = newChoice();
  await attempt(async () => {
    const img = await api(`Uploading ${file.name}`, '/api/images', {
      body: file,
      query: { name: file.name },
    });
    clearError();
    // another image was chosen while this one travelled: it stays the chosen one
    if (mine()) await chooseImage({ ref: img.id, name: img.name });
  });
}

/**
 * A new image: with its label, the explanation at once; without one, the prediction first —
 * it stands in for the label, and the page says so until the user sets it.
 */
async function chooseImage(image) {
  const mine = newChoice();
  state.image = image;
  state.selected = null;
  renderExamples();
  clearResults();
  if (!readSettings()) return;
  if (image.label !== undefined) {
    $('label').value = String(image.label);
    setAssumed(false);
  } else {
    const model = state.model.id;
    const p = await attempt(() => api('Predicting', '/api/predict', { json: { model, image: image.ref } }));
    if (!p || !mine() || p.model !== state.model.id || p.image !== state.image?.ref) return;
    $('label').value = String(p.predicted);
    setAssumed(true);
  }
  await explainNow();
}

function setAssumed(assumed) {
  state.labelAssumed = assumed;
  $('label-note').hidden = !assumed;
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
  initModels(s);
}

$('error-close').addEventListener('click', clearError);
$('image-file').addEventListener('change', (e) => {
  if (e.target.files[0]) uploadImage(e.target.files[0]);
  e.target.value = '';
});
$('run').addEventListener('click', explainNow);
$('label').addEventListener('change', () => {
  setAssumed(false);
  explainNow();
});
for (const id of ['k', 'boost']) $(id).addEventListener('change', explainNow);
$('standardize').addEventListener('change', () => {
  state.standardize = $('standardize').value;
  explainNow();
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
