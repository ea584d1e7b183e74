/**
 * checkStatsFor: statistics apply only to the model, aggregation and preprocessing they were
 * computed for — and an ONNX model keeps its statistics when its file is renamed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PssError } from '../../src/errors.js';
import { toOnnxModel } from '../../src/graph/onnx.js';
import { Model } from '../../src/models/model.js';
import { onnxModel } from '../../src/models/onnx-import.js';
import { tinycnn } from '../../src/models/tinycnn.js';
import { type Aggregation, saliencyLength } from '../../src/saliency/aggregation.js';
import { buildForward } from '../../src/saliency/graph.js';
import { AUTHORS_PREPROCESSING } from '../../src/stats/authors.js';
import { checkStatsFor, preprocessingOf } from '../../src/stats/check.js';
import type { Statistics } from '../../src/stats/file.js';
import { RunningStats } from '../../src/stats/welford.js';

const model = Model.deterministic(tinycnn);

function statsOf(
  m: Model,
  aggregation: Aggregation = 'filter',
  edit: Partial<Statistics['meta']> = {},
): Statistics {
  const n = saliencyLength(m, aggregation);
  const acc = new RunningStats(n);
  acc.push(new Float64Array(n).fill(1));
  acc.push(new Float64Array(n).fill(2));
  return {
    acc,
    meta: {
      model: m.name,
      weightsHash: m.weightsHash(),
      aggregation,
      filters: n,
      units: m.units,
      preprocessing: preprocessingOf(m),
      dataset: 'd',
      skipped: 0,
      ...edit,
    },
  };
}

const refuses = (s: Statistics, m: Model, a: Aggregation, pattern: RegExp) =>
  assert.throws(
    () => checkStatsFor(s, m, a, 's.safetensors'),
    (e: Error) => {
      assert.ok(e instanceof PssError, `a PssError, got ${e.stack}`);
      assert.match(e.message, pattern);
      return true;
    },
  );

/** tinycnn as an ONNX file named `name`, with its weights scaled by `scale`. */
function onnx(name: string, scale = 1): Model {
  const m =
    scale === 1
      ? model
      : new Model(
          tinycnn,
          10,
          new Map([...model.weights].map(([k, w]) => [k, w.map((v) => v * scale)])),
          'x',
        );
  const { logits } = buildForward(m, [1, 3, 29, 29]);
  return onnxModel(toOnnxModel([{ name: 'logits', value: logits }]), `/models/${name}`);
}

describe('checkStatsFor', () => {
  it('accepts statistics of the same model, aggregation and preprocessing', () => {
    checkStatsFor(statsOf(model), model, 'filter', 's.safetensors');
    checkStatsFor(statsOf(model, 'parameter'), model, 'parameter', 's.safetensors');
  });

  it('refuses per-filter statistics for per-parameter saliency and the reverse, first', () => {
    refuses(
      statsOf(model),
      model,
      'parameter',
      /^s\.safetensors holds filter statistics; this run uses --aggregation parameter$/,
    );
    refuses(
      statsOf(model, 'parameter'),
      model,
      'signed',
      /holds parameter statistics; this run uses --aggregation signed$/,
    );
    refuses(
      statsOf(model, 'parameter', { filters: 7 }),
      model,
      'parameter',
      new RegExp(`has statistics for 7 parameter values; tinycnn has ${saliencyLength(model, 'parameter')}$`),
    );
  });

  it('refuses statistics over another unit set, naming both (old files without the field: filters)', () => {
    const wide = model.withUnits('filters+neurons');
    checkStatsFor(statsOf(wide, 'filter', { units: 'filters+neurons' }), wide, 'filter', 's.safetensors');
    // a file that records no unit set covers filters
    checkStatsFor(statsOf(model, 'filter', { units: undefined }), model, 'filter', 's.safetensors');
    refuses(
      statsOf(model, 'filter', { units: undefined }),
      wide,
      'filter',
      /^s\.safetensors holds statistics over --units filters \(192 values\); this run uses --units filters\+neurons \(202 for tinycnn\)$/,
    );
    refuses(
      statsOf(wide, 'filter', { units: 'filters+neurons' }),
      model,
      'filter',
      /over --units filters\+neurons \(202 values\); this run uses --units filters \(192 for tinycnn\)$/,
    );
    refuses(
      statsOf(wide, 'filter', { units: 'filters+neurons', filters: 201 }),
      wide,
      'filter',
      /has statistics for 201 units; tinycnn has 202$/,
    );
    // per-parameter vectors cover every parameter whatever the unit set
    checkStatsFor(statsOf(model, 'parameter', { units: 'filters' }), wide, 'parameter', 's.safetensors');
  });

  it('says what differs in the preprocessing', () => {
    const p = JSON.parse(preprocessingOf(model));
    refuses(
      statsOf(model, 'filter', { preprocessing: JSON.stringify({ ...p, resize: 32 }) }),
      model,
      'filter',
      /^s\.safetensors was computed with resize 32; tinycnn uses 29 \(recompute the statistics with pss stats for this preprocessing\)$/,
    );
    refuses(
      statsOf(model, 'filter', { preprocessing: JSON.stringify({ ...p, input: [3, 32, 32] }) }),
      model,
      'filter',
      /was computed with input size 3x32x32; tinycnn uses 3x29x29/,
    );
    refuses(
      statsOf(model, 'filter', { preprocessing: JSON.stringify({ ...p, std: [0.25, 0.25, 0.25] }) }),
      model,
      'filter',
      /was computed with std \[0.25,0.25,0.25\]; tinycnn uses \[0.5,0.5,0.5\]/,
    );
  });

  it("takes the authors' description of torchvision's transform to match ImageNet-normalised models only", () => {
    const authors = { weightsHash: 'unknown', preprocessing: AUTHORS_PREPROCESSING };
    const imagenet = onnx('tiny.onnx'); // imported ONNX models are normalised as ImageNet's
    checkStatsFor(statsOf(imagenet, 'filter', authors), imagenet, 'filter', 'a.pth');
    refuses(
      statsOf(model, 'filter', authors),
      model,
      'filter',
      /^s\.safetensors was computed with torchvision's ImageNet evaluation transform, .*; tinycnn normalises with mean \[0.5,0.5,0.5\] and std \[0.5,0.5,0.5\], not ImageNet's$/,
    );
  });

  it('an ONNX model is known by its weights, not its file name', () => {
    const a = onnx('tiny.onnx');
    const renamed = onnx('tiny-copy.onnx');
    assert.equal(renamed.name, 'tiny-copy');
    checkStatsFor(statsOf(a), renamed, 'filter', 's.safetensors');
    const other = onnx('tiny.onnx', 1.5);
    refuses(
      statsOf(a),
      other,
      'filter',
      /^s\.safetensors was computed for tiny with other weights \(hash [0-9a-f]{12}\); this is tiny \(hash [0-9a-f]{12}\)$/,
    );
    refuses(
      statsOf(a),
      onnx('other.onnx', 1.5),
      'filter',
      /^s\.safetensors holds statistics for tiny \(weights hash [0-9a-f]{12}\); this is other \(hash [0-9a-f]{12}\)$/,
    );
  });

  it("statistics of unknown weights (the authors') go by the architecture name", () => {
    refuses(
      statsOf(model, 'filter', { weightsHash: 'unknown', model: 'resnet50' }),
      model,
      'filter',
      /^s\.safetensors holds statistics for resnet50; this is tinycnn$/,
    );
  });

  it('needs two images', () => {
    const s = statsOf(model);
    s.acc.count = 1;
    refuses(s, model, 'filter', /summarises 1 image\(s\); at least 2 are needed$/);
  });
});
