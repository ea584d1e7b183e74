// The explorer page: state, requests to the JSON API (server.ts), rendering. No framework, no
// build step; all computation happens on the server.
import { FilterChart } from './chart.js';

const $ = (id) => document.getElementById(id);

const chart = new FilterChart($('chart'), { onPick: (index) => showFilter(index) });

const PRUNE_HINT = "Forward pass only: the prediction with those filters' weights set to zero.";

const state = {
  /** @type {Map<string, any>} loaded models by id */
  models: new Map(),
  model: null,
  /** {ref, name} of the chosen image */
  image: null,
  /** the last full explanation */
  result: null,
  /** filter indices clicked in the chart (kept per model) */
  clicked: [],
  /** the clicked filter whose map is shown */
  selected: null,
};

// ------------------------------------------------------------------ requests and progress

/** Elapsed time and what the server is doing, while any request is pending. */
const activity = {
  pending: new Map(),
  nextId: 0,
  timers: null,
  begin(label) {
    const id = this.nextId++;
    this.pending.set(id, { label, start: performance.now() });
    if (!this.timers) {
      $('activity').hidden = false;
      this.timers = [setInterval(() => this.tick(), 100), setInterval(() => this.poll(), 600)];
    }
    this.tick();
    return () => {
      this.pending.delete(id);
      if (this.pending.size === 0) {
        for (const t of this.timers) clearInterval(t);
        this.timers = null;
        $('activity').hidden = true;
        $('activity-server').textContent = '';
      } else this.tick();
    };
  },
  tick() {
    const first = [...this.pending.values()][0];
    if (!first) return;
    $('activity-text').textContent = `${first.label}…`;
    $('activity-time').textContent = `${((performance.now() - first.start) / 1000).toFixed(1)} s`;
  },
  async poll() {
    try {
      const s = await (await fetch('/api/status')).json();
      $('activity-server').textContent = s.busy
        ? `server: ${s.busy}${s.waiting ? ` (+${s.waiting} waiting)` : ''}`
        : '';
    } catch {
      $('activity-server').textContent = 'server not answering';
    }
  },
};

/** A JSON API call; a failure throws an Error with the server's message. */
async function api(label, path, { json, body, query } = {}) {
  const done = activity.begin(label);
  try {
    const url = query ? `${path}?${new URLSearchParams(query)}` : path;
    const init =
      json !== undefined
        ? { method: 'POST', body: JSON.stringify(json), headers: { 'content-type': 'application/json' } }
        : body !== undefined
          ? { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } }
          : {};
    let res;
    try {
      res = await fetch(url, init);
    } catch {
      throw new Error(`${label}: the server did not answer (is pss serve still running?)`);
    }
    const text = await res.text();
    let data;
    try {
      data = JSON.parse(text);
    } catch {
      throw new Error(`${label}: unexpected answer from the server (HTTP ${res.status})`);
    }
    if (!res.ok) throw new Error(data.error ?? `HTTP ${res.status}`);
    return data;
  } finally {
    done();
  }
}

function showError(message) {
  $('error-text').textContent = message;
  $('error').hidden = false;
}
function clearError() {
  $('error').hidden = true;
}
/** Runs an action; its failure is shown in the page. */
async function attempt(fn) {
  try {
    return await fn();
  } catch (e) {
    showError(e.message);
    return undefined;
  }
}

// ------------------------------------------------------------------------------- helpers

function node(tag, props = {}, ...children) {
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

const percent = (p) => `${(100 * p).toFixed(p >= 0.9995 || p < 0.001 ? 2 : 1)}%`;
const className = (model, c) => (model?.classNames ? `${model.classNames[c]} (${c})` : `class ${c}`);
const filterName = (f) => `${f.layer} #${f.filter}`;
const fmt = (v) =>
  v === null || v === undefined
    ? 'n/a'
    : Math.abs(v) >= 1000 || (v !== 0 && Math.abs(v) < 0.01)
      ? v.toExponential(2)
      : v.toFixed(2);

/** A top-5 list as labelled bars. */
function renderBars(list, probabilities, highlight) {
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

// ---------------------------------------------------------------------------- explaining

let explainSeq = 0;

function clearResults() {
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
  $('pruned').textContent = PRUNE_HINT;
  $('pruned-top5').replaceChildren();
}

async function explainNow() {
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

// ----------------------------------------------------------------------- one filter's map

let filterSeq = 0;

function showFilterMap(r, f) {
  const img = $('map-filter');
  if (!r) {
    img.hidden = true;
    img.removeAttribute('src');
    $('map-filter-empty').hidden = false;
    $('map-filter-caption').textContent = "One filter's input-space map";
    return;
  }
  img.src = r.maps.pss;
  img.hidden = false;
  $('map-filter-empty').hidden = true;
  $('map-filter-caption').textContent =
    `Filter ${filterName(f)} (${state.result?.standardized ? 'z' : 'saliency'} = ${fmt(f.z)}), boost ×${r.boost}`;
}

async function showFilter(index) {
  if (!state.result) return;
  if (!state.clicked.includes(index)) state.clicked.push(index);
  state.selected = index;
  chart.setPicked(state.clicked, index);
  renderClicked();
  const seq = ++filterSeq;
  const r = await attempt(() =>
    api('Mapping one filter', '/api/explain', {
      json: {
        model: state.model.id,
        image: state.image.ref,
        label: state.result.label,
        boost: Number($('boost').value),
        filters: [index],
        profile: false,
      },
    }),
  );
  if (!r || seq !== filterSeq) return;
  showFilterMap(r, r.boosted[0]);
  if ($('prune-toggle').checked && pruneMode() === 'clicked') updatePrune();
}

function renderClicked() {
  const describe = (index) => {
    const l = state.result.profile.layers.findLast((x) => x.offset <= index);
    return `${l.name} #${index - l.offset}`;
  };
  $('clicked').replaceChildren(
    ...state.clicked.map((index) =>
      node(
        'span',
        { class: index === state.selected ? 'chip selected' : 'chip' },
        node('button', { type: 'button', class: 'link', onclick: () => showFilter(index) }, describe(index)),
        node(
          'button',
          {
            type: 'button',
            class: 'remove',
            title: 'remove',
            onclick: () => {
              state.clicked = state.clicked.filter((i) => i !== index);
              if (state.selected === index) {
                state.selected = null;
                showFilterMap(null);
              }
              chart.setPicked(state.clicked, state.selected);
              renderClicked();
              if ($('prune-toggle').checked && pruneMode() === 'clicked') updatePrune();
            },
          },
          '×',
        ),
      ),
    ),
  );
  $('prune-clicked-n').textContent = String(state.clicked.length);
}

// --------------------------------------------------------------------------- zeroing filters

const pruneMode = () => document.querySelector('input[name="prune-mode"]:checked').value;
let pruneSeq = 0;

async function updatePrune() {
  const r = state.result;
  const seq = ++pruneSeq;
  if (!$('prune-toggle').checked || !r) {
    $('pruned').textContent = PRUNE_HINT;
    $('pruned-top5').replaceChildren();
    return;
  }
  const zero = pruneMode() === 'top' ? r.profile.top.map((t) => t.index) : state.clicked;
  const p = await attempt(() =>
    api('Predicting with filters zeroed', '/api/predict', {
      json: { model: state.model.id, image: state.image.ref, zero },
    }),
  );
  if (!p || seq !== pruneSeq) return;
  const m = state.model;
  const before = r.probabilities.find((x) => x.class === r.predicted)?.probability;
  const after = p.probabilities.find((x) => x.class === r.predicted)?.probability;
  $('pruned').replaceChildren(
    node('span', {}, `With ${p.zeroed} filter${p.zeroed === 1 ? '' : 's'} zeroed: predicted `),
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
