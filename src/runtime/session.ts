/**
 * The one place pss touches ONNX Runtime: sessions from pss graphs, cached by graph key,
 * on the CPU or WebGPU execution provider.
 */
import * as ort from 'onnxruntime-node';
import { dtypeOf, type TypedData, type Value } from '../graph/graph.js';
import type { GraphOutput } from '../graph/onnx.js';
import { toOnnxParts } from '../graph/onnx.js';
import { checkWebGpu } from './webgpu.js';
import { forWebGpu } from './webgpu-forms.js';

// ONNX Runtime's own warnings (telemetry ids, node placement) are not the user's business;
// its errors still throw.
ort.env.logLevel = 'error';

export type Device = 'cpu' | 'webgpu';
export const DEVICES: readonly Device[] = ['cpu', 'webgpu'];

export interface SessionOptions {
  device?: Device;
  /** Threads for one op (default: all cores ONNX Runtime sees). */
  threads?: number;
  /** How ONNX Runtime gets the weights (default 'initializers'). */
  weights?: WeightPlacement;
  /** Record ONNX Runtime's profile to a file with this prefix (see endProfiling). */
  profilePrefix?: string;
  /** For tests: skip the rewrites around WebGPU kernel bugs (webgpu-forms.ts), to watch for upstream fixes. */
  rawWebGpu?: boolean;
}

/**
 * - 'initializers': as in-memory external data (no protobuf copy). ONNX Runtime may re-lay
 *   them out at load (blocked NCHWc convs, BN fused into convs): the fastest runs, but it
 *   keeps its own copies and needs transient memory at load (ResNet-50 explain: 1.2 GB peak);
 * - 'inputs': graph inputs fed from pss's arrays on every run: ONNX Runtime keeps no copy
 *   and loads at once, and convs run on the plain NCHW kernels (ResNet-50 explain: 0.7 GB);
 * - 'mixed': the model's weights as initializers, constants pss derives from them (the
 *   adjoint kernels, Graph.foldConstant) as inputs.
 */
export type WeightPlacement = 'initializers' | 'inputs' | 'mixed';

export type Feeds = Record<string, TypedData>;
export type Fetches = Record<string, Float32Array | Float64Array>;

export class Runner implements Disposable {
  readonly inputs: readonly Value[];
  /** The static shape of each output, by name. */
  readonly outputShapes: Readonly<Record<string, readonly number[]>>;
  private constructor(
    private readonly session: ort.InferenceSession,
    inputs: readonly Value[],
    outputs: readonly GraphOutput[],
    /** Weights fed as graph inputs on every run (zero-copy views of pss's arrays). */
    private readonly constantFeeds: Record<string, ort.Tensor>,
  ) {
    this.inputs = inputs;
    this.outputShapes = Object.fromEntries(outputs.map((o) => [o.name, o.value.shape]));
  }

  static async create(outputs: readonly GraphOutput[], opts: SessionOptions = {}): Promise<Runner> {
    const weights = opts.weights ?? 'initializers';
    if (opts.device === 'webgpu') {
      checkWebGpu();
      if (!opts.rawWebGpu) outputs = forWebGpu(outputs);
    }
    const graph = outputs[0].value.graph;
    const parts = toOnnxParts(outputs, {
      constants: (v) =>
        weights === 'inputs' || (weights === 'mixed' && graph.folded.has(v)) ? 'inputs' : 'initializers',
    });
    const bytes = (d: TypedData) => new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    const session = await ort.InferenceSession.create(parts.model, {
      executionProviders: [opts.device ?? 'cpu'],
      graphOptimizationLevel: 'all',
      // Warnings only about node placement; errors still throw.
      logSeverityLevel: 3,
      intraOpNumThreads: opts.threads ?? 0,
      // The arena keeps freed tensors for the next ones. Without it each run maps fresh pages
      // and faults them in (ResNet-50 per-sample saliency: 1.1M minor faults and 0.32 s per
      // image, against 0.35M and 0.25-0.28 s with it). Memory patterns (preplanned buffers)
      // stay off: with them and the arena, explain peaked at 2.0 GB (bench/saliency.ts).
      enableCpuMemArena: true,
      enableMemPattern: false,
      // In-memory "files" for the weights: ONNX Runtime reads them without a protobuf copy.
      externalData: parts.external.map((c) => ({ path: c.name, data: bytes(c.data) })),
      ...(opts.profilePrefix ? { enableProfiling: true, profileFilePrefix: opts.profilePrefix } : {}),
    });
    const inputs = graph.inputs.filter((v) => session.inputNames.includes(v.inputName!));
    const constantFeeds = Object.fromEntries(
      parts.inputs.map((c) => [c.name, new ort.Tensor(ORT_TYPE[dtypeOf(c.data)], c.data, [...c.shape])]),
    );
    return new Runner(session, inputs, outputs, constantFeeds);
  }

  /** Runs with the given inputs (by graph-input name); extra feeds are ignored. */
  async run(feeds: Feeds): Promise<Fetches> {
    const tensors: Record<string, ort.Tensor> = { ...this.constantFeeds };
    for (const v of this.inputs) {
      const data = feeds[v.inputName!];
      if (!data) throw new Error(`missing input "${v.inputName}"`);
      if (data.length !== v.size)
        throw new Error(`input "${v.inputName}" has ${data.length} values, expected ${v.size}`);
      tensors[v.inputName!] = new ort.Tensor(ORT_TYPE[v.dtype], data, [...v.shape]);
    }
    const out = await this.session.run(tensors);
    const result: Fetches = {};
    for (const [k, t] of Object.entries(out)) result[k] = t.data as Float32Array | Float64Array;
    return result;
  }

  /** Stops a profile started with the profilePrefix option and writes its file. */
  endProfiling(): void {
    this.session.endProfiling();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.session.release();
  }
  [Symbol.dispose](): void {
    void this.session.release();
  }
  release(): Promise<void> {
    return this.session.release();
  }
}

const ORT_TYPE = { float32: 'float32', float64: 'float64', int64: 'int64', bool: 'bool' } as const;
