/**
 * Layers with torchvision's parameter names. An architecture declares its layers on a Net
 * in torchvision's order — which fixes the parameter order, and so the order of the
 * saliency vector — and returns its forward function.
 */
import type { Graph, Value } from '../graph/graph.js';
import * as op from '../ops/index.js';

/** 'conv-transpose': an imported ConvTranspose's weight [C, M/group, kh, kw], a parameter without units. */
export type ParamRole =
  | 'conv'
  | 'conv-transpose'
  | 'bn-weight'
  | 'bn-bias'
  | 'bn-mean'
  | 'bn-var'
  | 'linear'
  | 'bias';

export interface ParamSpec {
  name: string;
  shape: number[];
  role: ParamRole;
  /** Running statistics: state, not parameters (torch's buffers). */
  buffer: boolean;
  /**
   * An attention in-projection (nn.MultiheadAttention's in_proj_weight, Swin's qkv: rows
   * q | k | v, [3E, E]): its head count. Its units are heads, 3 per head (DESIGN §1.3).
   */
  heads?: number;
}

export type Layer = (x: Value) => Value;

/** Where the forward pass runs: its graph, batch size, and parameter values. */
export interface NetContext {
  graph: Graph;
  param(spec: ParamSpec): Value;
  /**
   * Applied to every conv's output (bias included), given the conv's weight name: e.g. a
   * per-sample mask over output channels, which equals zeroing those filters' weights and bias.
   */
  convOutput?(weight: string, y: Value): Value;
  /**
   * Applied to every linear layer's output (bias included; its units on the last axis), given
   * its weight's name: the same per-sample masks, for neurons and attention heads.
   */
  linearOutput?(weight: string, y: Value): Value;
}

/** A size for both spatial axes, or [height, width]. */
export type Pair = number | readonly [number, number];
const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

export interface ConvSpec {
  in: number;
  out: number;
  kernel: Pair;
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
}

export class Net {
  readonly params: ParamSpec[] = [];
  private readonly values = new Map<string, Value>();

  /** Without a context the Net only records its parameters (layer tables, weight checks). */
  constructor(readonly ctx?: NetContext) {}

  private declare(name: string, shape: number[], role: ParamRole, buffer = false, heads?: number): void {
    if (this.params.some((p) => p.name === name)) throw new Error(`parameter ${name} declared twice`);
    this.params.push({ name, shape, role, buffer, ...(heads ? { heads } : {}) });
  }

  /**
   * Declares a parameter of any layer kind (imported graphs, custom blocks); returns its graph
   * value on demand. `heads`: see ParamSpec.heads.
   */
  parameter(
    name: string,
    shape: readonly number[],
    role: ParamRole,
    buffer = false,
    heads?: number,
  ): () => Value {
    this.declare(name, [...shape], role, buffer, heads);
    return () => this.value(name);
  }

  /** The graph value of a declared parameter. */
  value(name: string): Value {
    let v = this.values.get(name);
    if (!v) {
      const spec = this.params.find((p) => p.name === name);
      if (!spec || !this.ctx) throw new Error(`parameter ${name} is not available`);
      this.values.set(name, (v = this.ctx.param(spec)));
    }
    return v;
  }

  /** A conv's output after the context's hook (layer kits that build convs themselves call this too). */
  convOutput(weight: string, y: Value): Value {
    return this.ctx?.convOutput ? this.ctx.convOutput(weight, y) : y;
  }

  /** A linear layer's output after the context's hook (layers that build their own MatMul call this too). */
  linearOutput(weight: string, y: Value): Value {
    return this.ctx?.linearOutput ? this.ctx.linearOutput(weight, y) : y;
  }

  conv2d(name: string, s: ConvSpec): Layer {
    const groups = s.groups ?? 1;
    const [kh, kw] = pair(s.kernel);
    this.declare(`${name}.weight`, [s.out, s.in / groups, kh, kw], 'conv');
    if (s.bias) this.declare(`${name}.bias`, [s.out], 'bias');
    const [ph, pw] = pair(s.padding ?? 0);
    const opts = { strides: pair(s.stride ?? 1), pads: [ph, pw, ph, pw], dilations: pair(s.dilation ?? 1) };
    return (x) =>
      this.convOutput(
        `${name}.weight`,
        op.conv(x, this.value(`${name}.weight`), s.bias ? this.value(`${name}.bias`) : undefined, {
          ...opts,
          group: groups,
        }),
      );
  }

  batchNorm2d(name: string, channels: number, eps = 1e-5): Layer {
    this.declare(`${name}.weight`, [channels], 'bn-weight');
    this.declare(`${name}.bias`, [channels], 'bn-bias');
    this.declare(`${name}.running_mean`, [channels], 'bn-mean', true);
    this.declare(`${name}.running_var`, [channels], 'bn-var', true);
    return (x) =>
      op.batchNorm(
        x,
        ...(['weight', 'bias', 'running_mean', 'running_var'].map((k) => this.value(`${name}.${k}`)) as [
          Value,
          Value,
          Value,
          Value,
        ]),
        eps,
      );
  }

  /** nn.Linear on the last axis of x (rank 2 or more). `heads`: see ParamSpec.heads (Swin's qkv). */
  linear(name: string, inFeatures: number, outFeatures: number, bias = true, heads?: number): Layer {
    this.declare(`${name}.weight`, [outFeatures, inFeatures], 'linear', false, heads);
    if (bias) this.declare(`${name}.bias`, [outFeatures], 'bias');
    return (x) => this.applyLinear(`${name}.weight`, bias ? `${name}.bias` : undefined, x);
  }

  /**
   * nn.Linear's forward with declared parameters of any name (nn.MultiheadAttention's
   * in_proj_weight, in_proj_bias), through the linearOutput hook.
   */
  applyLinear(weight: string, bias: string | undefined, x: Value): Value {
    const w = this.value(weight);
    const b = bias ? this.value(bias) : undefined;
    // [N, in] is one Gemm; tokens or channels-last pixels [N, ..., in] are x Wᵀ (+ b) as a
    // MatMul, whose per-sample weight gradient sums over the middle axes.
    const y =
      x.rank === 2
        ? op.gemm(x, w, b, { transB: true })
        : ((v: Value) => (b ? op.add(v, b) : v))(op.matmul(x, op.transpose(w, [1, 0])));
    return this.linearOutput(weight, y);
  }
}

/** Applies layers in order. */
export const sequential =
  (...layers: Layer[]): Layer =>
  (x) =>
    layers.reduce((v, f) => f(v), x);
