/** A built-in architecture with its weights: parameter list, unit table, values. */
import { createHash } from 'node:crypto';
import { PssError } from '../errors.js';
import { describeNonFinite } from '../util/vector.js';
import type { Architecture } from './architecture.js';
import { deterministicParameter } from './deterministic.js';
import { Net, type ParamSpec } from './nn.js';
import { DEFAULT_UNIT_SET, type UnitLayer, type UnitSet, unitCount, unitTable } from './units.js';

/** Facts about a model that change how its results read. */
export interface ModelInfo {
  /** BatchNorm was folded into the convs (ONNX exports): raw saliency is scaled per filter by |γ|/sqrt(var+ε); z is unaffected when statistics come from the same model. */
  batchNormFolded?: boolean;
  /** Things the user should know (dropped softmax, filled-in tensors...). */
  notes?: string[];
  /** An imported ONNX file: its opset, the graph input fed (and its layout), the output read and how the graph ended. */
  onnx?: { opset: number; input: string; layout: 'NCHW' | 'NHWC'; output: string; ending: string };
}

export class Model {
  readonly params: readonly ParamSpec[];
  /** The unit set the saliency vector covers (DESIGN §1.3). */
  readonly units: UnitSet;
  /** The unit table: each layer's run of positions in the saliency vector, in parameter order. */
  readonly layers: readonly UnitLayer[];
  /** How many units the saliency vector has (filters, and neurons or heads if the set has them). */
  readonly unitCount: number;
  /** Notes on how the weights were loaded (e.g. tensors filled in); for the caller to show. */
  warnings: readonly string[] = [];
  private hash?: string;

  constructor(
    readonly arch: Architecture,
    readonly numClasses: number,
    readonly weights: ReadonlyMap<string, Float32Array>,
    /** Where the weights came from (a path, a URL, "deterministic"). */
    readonly source: string,
    readonly info: ModelInfo = {},
    /** Default: the architecture's (arch.defaultUnits), else filters. */
    units?: UnitSet,
  ) {
    const net = new Net();
    arch.define(net, numClasses);
    this.params = net.params;
    this.units = units ?? arch.defaultUnits ?? DEFAULT_UNIT_SET;
    this.layers = Object.freeze(unitTable(this.params, this.units, arch.unitLinears, arch.unitBiases));
    this.unitCount = unitCount(this.layers);
    checkWeights(this.params, weights, source, arch.name);
  }

  /** The same model (weights, source, notes) with its saliency vector over another unit set. */
  withUnits(units: UnitSet): Model {
    if (units === this.units) return this;
    const m = new Model(this.arch, this.numClasses, this.weights, this.source, this.info, units);
    m.warnings = this.warnings;
    m.hash = this.hash;
    return m;
  }

  get name(): string {
    return this.arch.name;
  }

  /** SHA-256 over parameter names, shapes and values: identifies the model that statistics belong to. */
  weightsHash(): string {
    if (!this.hash) {
      const h = createHash('sha256');
      for (const p of this.params) {
        const w = this.weights.get(p.name)!;
        h.update(`${p.name}:${p.shape.join('x')};`);
        h.update(new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
      }
      this.hash = h.digest('hex');
    }
    return this.hash;
  }

  /** Deterministic weights (the formula shared with the PyTorch fixtures). */
  static deterministic(arch: Architecture, numClasses = arch.defaultClasses): Model {
    const net = new Net();
    arch.define(net, numClasses);
    const weights = new Map(net.params.map((p) => [p.name, deterministicParameter(p.name, p.shape)]));
    return new Model(arch, numClasses, weights, 'deterministic');
  }

  /** From named float32 tensors; the number of classes is read off the classifier's weight. */
  static fromTensors(
    arch: Architecture,
    tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>,
    source: string,
  ): Model {
    const classifier = tensors.get(`${arch.classifier}.weight`);
    const numClasses = classifier?.shape[0] ?? arch.defaultClasses;
    const shapes = new Map([...tensors].map(([k, t]) => [k, t.shape]));
    const net = new Net();
    arch.define(net, numClasses);
    checkShapes(net.params, shapes, source, arch.name);
    return new Model(arch, numClasses, new Map([...tensors].map(([k, t]) => [k, t.data])), source);
  }
}

function checkShapes(
  params: readonly ParamSpec[],
  shapes: ReadonlyMap<string, readonly number[]>,
  source: string,
  arch: string,
): void {
  const missing = params.filter((p) => !shapes.has(p.name));
  if (missing.length) {
    const list = missing.slice(0, 3).map((p) => `"${p.name}" [${p.shape.join(', ')}]`);
    const more = missing.length > 3 ? ` and ${missing.length - 3} more` : '';
    throw new PssError(`${source} lacks ${missing.length} ${arch} tensor(s): ${list.join(', ')}${more}`);
  }
  for (const p of params) {
    const s = shapes.get(p.name)!;
    if (s.length !== p.shape.length || s.some((d, i) => d !== p.shape[i]))
      throw new PssError(
        `tensor "${p.name}" in ${source} has shape [${s.join(', ')}]; ${arch} expects [${p.shape.join(', ')}]`,
      );
  }
}

function checkWeights(
  params: readonly ParamSpec[],
  weights: ReadonlyMap<string, Float32Array>,
  source: string,
  arch: string,
) {
  const shapes = new Map(
    params
      .filter((p) => weights.has(p.name))
      .map((p) => [
        p.name,
        weights.get(p.name)!.length === size(p.shape) ? p.shape : [weights.get(p.name)!.length],
      ]),
  );
  checkShapes(params, shapes, source, arch);
  for (const p of params) {
    const bad = describeNonFinite(weights.get(p.name)!, p.shape);
    if (bad) throw new PssError(`${source}: tensor "${p.name}" holds ${bad}; weights must be finite numbers`);
  }
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
