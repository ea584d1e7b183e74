// The model panel: the list of loaded models (as the server has them: one it released leaves
// the list), the chosen model's description, loading a built-in architecture with uploaded or
// cached weights, importing an ONNX classifier with its preprocessing, releasing a model.
import { api, attempt, clearError } from './api.js';
import { $, fmtCount, node, unitWord } from './dom.js';
import { state } from './state.js';
import { unitLookup } from './units.js';

const hooks = { changed: (_info) => {} };
/** `changed(info)` runs when another model becomes the chosen one. */
export function onModelChanged(handler) {
  hooks.changed = handler;
}

function renderModelSelect() {
  const select = $('model-select');
  select.replaceChildren(
    ...[...state.models.values()].map((m) => node('option', { value: m.id, textContent: m.title })),
  );
  if (state.model) select.value = state.model.id;
  $('model-release').hidden = !state.model || state.model.pinned;
}

/** The server's list of loaded models replaces the page's; the chosen one, if released, gives way to the initial model. */
export async function refreshModels() {
  const s = await attempt(() => api('Updating the model list', '/api/state'));
  if (!s) return;
  state.models = new Map(s.models.map((m) => [m.id, m]));
  state.initial = s.initial;
  if (state.model && !state.models.has(state.model.id)) setModel(state.models.get(s.initial));
  else renderModelSelect();
}

export function setModel(info) {
  state.models.set(info.id, info);
  const changed = state.model?.id !== info.id;
  state.model = info;
  state.units = unitLookup(info.units);
  renderModelSelect();
  const stats = info.statistics
    ? `z-scores against ${fmtCount(info.statistics.count)} validation images (${info.statistics.file})`
    : 'no statistics: raw saliency, not z-scores';
  const pre = info.preprocessing
    ? ` Preprocessing: ${info.preprocessing.summary}${info.preprocessing.assumed ? ' (assumed from the input shape)' : ''}.`
    : '';
  $('model-info').textContent =
    `${info.name}: ${info.unitSet === 'filters' ? `${info.layerCount} conv layers, ${fmtCount(info.unitCount)} filters` : `${info.layerCount} layers, ${info.unitCounts} (--units ${info.unitSet})`}, ` +
    `input ${info.inputShape.join('×')}, ${info.numClasses} classes; ${stats}.${pre}`;
  $('model-notes').replaceChildren(...info.notes.map((n) => node('li', {}, n)));
  // The page's static wording names the model's units: filters, or units when there are more kinds.
  const word = unitWord(info);
  for (const el of document.querySelectorAll('.unit-word')) el.textContent = word;
  for (const el of document.querySelectorAll('.unit-word-title'))
    el.textContent = word[0].toUpperCase() + word.slice(1);
  showStandardizations(info);
  $('k').max = String(info.unitCount);
  const labels = $('label');
  const names = info.classNames ?? Array.from({ length: info.numClasses }, (_, i) => `class ${i}`);
  labels.replaceChildren(
    ...names.map((n, i) =>
      node('option', { value: String(i), textContent: info.classNames ? `${n} (${i})` : n }),
    ),
  );
  if (changed) hooks.changed(info);
}

/**
 * The "Rank by" choice: POT only where the model's statistics keep tails (the server says why
 * not); the choice made is kept for the next model that has them.
 */
export function showStandardizations(info) {
  const why = info.pot?.refusal ?? 'the server does not offer POT';
  const pot = $('standardize').querySelector('option[value="pot"]');
  pot.disabled = Boolean(info.pot?.refusal);
  pot.hidden = pot.disabled;
  $('standardize').value = pot.disabled ? 'z' : state.standardize;
  $('standardize-note').textContent = pot.disabled
    ? `POT is not offered for this model: ${why}`
    : `POT: each unit's tail probability P (peaks over its q = ${info.pot.quantile} threshold), smallest P first.`;
}

/** A file chosen in the page, uploaded for the server to keep: "upload:f1". */
async function uploadFile(file, kind) {
  const f = await api(`Uploading ${file.name}`, '/api/files', {
    body: file,
    query: { kind, name: file.name },
  });
  return f.id;
}

function say(id, message) {
  $(id).textContent = message ?? '';
  $(id).hidden = !message;
}

async function loadZoo(event) {
  event.preventDefault();
  const arch = state.architectures.find((a) => a.name === $('zoo-arch').value);
  const weightsFile = $('zoo-weights-file').files[0];
  const statsFile = $('zoo-stats-file').files[0];
  const typed = $('zoo-weights').value.trim();
  const statsPath = $('zoo-stats').value.trim();
  if (!arch) return say('zoo-message', 'Choose an architecture.');
  if (!arch.bundled && !weightsFile && !typed)
    return say(
      'zoo-message',
      `${arch.name} needs weights: choose a file${arch.cached ? `, or use ${arch.cached}` : ''}.`,
    );
  if (typed && !state.allowPaths && !/^(tv|hf):/.test(typed))
    return say(
      'zoo-message',
      'Type tv:<arch> for cached weights, or choose a weights file (this server does not read paths).',
    );
  say('zoo-message');
  await attempt(async () => {
    const weights = weightsFile ? await uploadFile(weightsFile, 'weights') : typed || undefined;
    const stats = statsFile ? await uploadFile(statsFile, 'stats') : statsPath || undefined;
    const info = await api(`Loading ${arch.name}`, '/api/models', {
      json: { arch: arch.name, ...(weights && { weights }), ...(stats && { stats }), ...unitsChosen() },
    });
    clearError();
    $('load-model').open = false;
    setModel(info);
    await refreshModels();
  });
}

export async function uploadOnnx(file) {
  const how = $('onnx-preprocessing').value;
  const description = $('onnx-description').files[0];
  if (how === 'file' && !description)
    return say('onnx-message', 'Choose the preprocessor_config.json first, or another preprocessing.');
  say('onnx-message');
  await attempt(async () => {
    const preprocessing = how === 'file' ? await uploadFile(description, 'preprocessing') : how;
    const info = await api(`Importing ${file.name}`, '/api/models/onnx', {
      body: file,
      query: { name: file.name, preprocessing, ...unitsChosen() },
    });
    clearError();
    $('load-model').open = false;
    setModel(info);
    await refreshModels();
  });
}

async function release() {
  const m = state.model;
  if (!m || m.pinned) return;
  await attempt(async () => {
    await api(`Releasing ${m.title}`, `/api/models/${encodeURIComponent(m.id)}`, { method: 'DELETE' });
    await refreshModels();
  });
}

const showName = (input, out) =>
  input.addEventListener('change', () => {
    $(out).textContent = input.files[0] ? input.files[0].name : '';
  });

/** The unit set chosen for the next model to load; none: the architecture's default. */
const unitsChosen = () => ($('model-units').value ? { units: $('model-units').value } : {});

export function initModels(s) {
  state.architectures = s.architectures;
  $('model-units').replaceChildren(
    node('option', { value: '', textContent: "the architecture's default" }),
    ...Object.entries(s.unitSets ?? {}).map(([name, what]) =>
      node('option', { value: name, textContent: name, title: what }),
    ),
  );
  state.allowPaths = s.allowPaths;
  state.initial = s.initial;
  state.standardize = s.standardize?.method ?? 'z';
  $('zoo-arch').replaceChildren(
    ...s.architectures.map((a) =>
      node('option', {
        value: a.name,
        textContent: `${a.name}${a.bundled ? ' (bundled weights)' : a.cached ? ` (${a.cached} cached)` : ''}`,
      }),
    ),
  );
  $('zoo-arch').addEventListener('change', () => {
    const arch = state.architectures.find((a) => a.name === $('zoo-arch').value);
    $('zoo-weights').value = arch?.cached ?? '';
  });
  if (s.allowPaths) {
    $('zoo-weights-label').textContent = 'or a weights file on the server, or tv:<arch> when cached';
    $('zoo-weights').placeholder = '/path/to/weights.safetensors';
    $('zoo-stats-path').hidden = false;
  }
  showName($('zoo-weights-file'), 'zoo-weights-file-name');
  showName($('zoo-stats-file'), 'zoo-stats-file-name');
  showName($('onnx-description'), 'onnx-description-name');
  $('onnx-preprocessing').addEventListener('change', () => {
    $('onnx-description-label').hidden = $('onnx-preprocessing').value !== 'file';
  });
  $('zoo-form').addEventListener('submit', loadZoo);
  $('onnx-form').addEventListener('submit', (e) => e.preventDefault());
  $('onnx-file').addEventListener('change', (e) => {
    if (e.target.files[0]) uploadOnnx(e.target.files[0]);
    e.target.value = '';
  });
  $('model-select').addEventListener('change', (e) => setModel(state.models.get(e.target.value)));
  $('model-release').addEventListener('click', release);
  state.models = new Map(s.models.map((m) => [m.id, m]));
  setModel(state.models.get(s.initial));
}
