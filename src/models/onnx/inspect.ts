/**
 * What the importer learns from a decoded model before replaying it: the opset, the operators
 * pss cannot import, the image input (layout, static size) and the class-score output, a final
 * Softmax, LogSoftmax or Sigmoid, which initializers are parameters (their roles, layers and
 * names), and whether BatchNorm was folded.
 */
import { PssError, quoted } from '../../errors.js';
import type { ParamRole } from '../nn.js';
import {
  type Const,
  type GraphProto,
  int,
  isDefaultDomain,
  kindOf,
  type ModelProto,
  type NodeProto,
  num,
  tensorConst,
  withBranches,
} from './decode.js';
import type { ExternalData } from './external.js';
import { checkOpset } from './opsets.js';
import { isSupported } from './replay.js';
import type { BiasAdd } from './rule.js';

export type { BiasAdd };

/** The opset of the default domain, 7 to 21. */
export function opsetOf(model: ModelProto, source: string): number {
  return checkOpset(num(model.opsetImport?.find((o) => isDefaultDomain(o.domain))?.version), source);
}

/** Refuses a model with operators pss cannot import, naming all of them (others' with their domain). */
export function refuseUnsupported(nodes: readonly NodeProto[], source: string): void {
  const unsupported = [
    ...new Set(
      withBranches(nodes)
        .filter((n) => !isDefaultDomain(n.domain) || !isSupported(n.opType ?? ''))
        .map((n) => (isDefaultDomain(n.domain) ? (n.opType ?? '') : `${n.opType} (domain ${n.domain})`)),
    ),
  ].sort();
  if (unsupported.length)
    throw new PssError(`${source} uses ONNX operators pss cannot differentiate: ${unsupported.join(', ')}`);
}

/** The initializers as constants; those kept in external files read through `external` (else refused). */
export function readInitializers(
  graph: GraphProto,
  source: string,
  external?: ExternalData,
): Map<string, Const> {
  const initializers = new Map<string, Const>();
  for (const t of graph.initializer ?? []) initializers.set(t.name!, tensorConst(t, source, external));
  return initializers;
}

type ValueInfo = NonNullable<GraphProto['input']>[number];
/** A value's dims, undefined where not static (a symbol, 0 or negative); undefined when unknown. */
const dimsOf = (v: ValueInfo) =>
  v.type?.tensorType?.shape?.dim?.map((d) =>
    d.dimValue != null && num(d.dimValue) > 0 ? num(d.dimValue) : undefined,
  );
const showDims = (dims: readonly (number | undefined)[] | undefined) =>
  dims ? `[${dims.map((d) => d ?? '?').join(', ')}]` : '[?]';

/**
 * The nodes `output` depends on, in file order (ONNX keeps nodes topologically sorted): what
 * only another output reads — an ArgMax or TopK label beside the scores — need not be importable.
 */
export function neededFor(nodes: readonly NodeProto[], output: string): NodeProto[] {
  const wanted = new Set([output]);
  const keep = nodes.map(() => false);
  for (let i = nodes.length - 1; i >= 0; i--) {
    if (!(nodes[i].output ?? []).some((o) => wanted.has(o))) continue;
    keep[i] = true;
    // an If's branches read the outer scope: everything they read is wanted too
    for (const m of withBranches([nodes[i]])) for (const x of m.input ?? []) if (x) wanted.add(x);
  }
  return nodes.filter((_, i) => keep[i]);
}

/** The model's image input: which graph input, its layout and its static dimensions. */
export interface ImageInput {
  name: string;
  /** NHWC inputs (tf2onnx) are fed NCHW by pss and transposed in the graph. */
  layout: 'NCHW' | 'NHWC';
  channels: number;
  /** Static height and width; undefined where the file leaves them dynamic. */
  height?: number;
  width?: number;
}

/** NCHW or NHWC from the dims of a rank-4 input: the channel axis is the one of 1 or 3 (or the static one). */
function layoutOf(dims: readonly (number | undefined)[]): { layout: 'NCHW' | 'NHWC'; channels?: number } {
  const small = (d: number | undefined) => d === 1 || d === 3;
  if (small(dims[1])) return { layout: 'NCHW', channels: dims[1] };
  if (small(dims[3])) return { layout: 'NHWC', channels: dims[3] };
  if (dims[1] !== undefined && dims[3] === undefined) return { layout: 'NCHW', channels: dims[1] };
  if (dims[3] !== undefined && dims[1] === undefined) return { layout: 'NHWC', channels: dims[3] };
  return { layout: 'NCHW', channels: dims[1] };
}

/**
 * The image input: the graph input named `chosen`, or the first rank-4 one (the others said so
 * in `notes`). Inputs the graph never reads are left out; another input it reads cannot be
 * fed (pss feeds one image) and is refused, naming it.
 */
export function imageInput(
  graph: GraphProto,
  initializers: ReadonlyMap<string, Const>,
  nodes: readonly NodeProto[],
  chosen: string | undefined,
  source: string,
  notes: string[],
): ImageInput {
  const inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name!));
  if (!inputs.length) throw new PssError(`${source} has no image input`);
  const describe = (i: ValueInfo) => `${quoted(i.name!)} ${showDims(dimsOf(i))}`;
  const list = inputs.map(describe).join(', ');
  const images = inputs.filter((i) => dimsOf(i)?.length === 4 || !dimsOf(i));
  const input = chosen === undefined ? (images[0] ?? inputs[0]) : inputs.find((i) => i.name === chosen);
  if (!input) throw new PssError(`${source} has no input ${quoted(chosen!)}; its inputs: ${list}`);
  const read = new Set(withBranches(nodes).flatMap((n) => n.input ?? []));
  const others = inputs.filter((i) => i !== input);
  const fed = others.filter((i) => read.has(i.name!));
  if (fed.length)
    throw new PssError(
      `${source} reads ${inputs.length} inputs (${list}); pss feeds one image (${quoted(input.name!)}) and nothing else`,
    );
  if (others.length)
    notes.push(
      `using input ${describe(input)}; the graph never reads ${others.map(describe).join(', ')}${chosen === undefined ? ' (choose another with --input-name)' : ''}`,
    );
  const dims = dimsOf(input);
  if (dims && dims.length !== 4)
    throw new PssError(`${source}: input ${describe(input)} is not an image tensor (NCHW or NHWC)`);
  const d = dims ?? [undefined, undefined, undefined, undefined];
  const { layout, channels } = layoutOf(d);
  const [height, width] = layout === 'NCHW' ? [d[2], d[3]] : [d[1], d[2]];
  if (layout === 'NHWC')
    notes.push(
      `input ${describe(input)} is NHWC (channels last): pss feeds NCHW and transposes it in the graph`,
    );
  if (channels === undefined)
    notes.push(`input ${describe(input)} has no static channel count: assuming 3 (RGB)`);
  return { name: input.name!, layout, channels: channels ?? 3, height, width };
}

/** The output pss reads class scores from: the one named `chosen`, or the first (said so when there are several). */
export function scoresOutput(
  graph: GraphProto,
  chosen: string | undefined,
  source: string,
  notes: string[],
): string {
  const outputs = (graph.output ?? []).filter((o) => o.name);
  if (!outputs.length) throw new PssError(`${source} has no output`);
  const list = outputs.map((o) => `${quoted(o.name!)} ${showDims(dimsOf(o))}`).join(', ');
  // class scores are floating-point [N, K]: not an int64 label beside them
  const floating = (o: ValueInfo) => kindOf(o.type?.tensorType?.elemType ?? 1) === 'float';
  const output =
    chosen === undefined
      ? (outputs.find((o) => dimsOf(o)?.length === 2 && floating(o)) ??
        outputs.find((o) => dimsOf(o)?.length === 2) ??
        outputs.find(floating) ??
        outputs[0])
      : outputs.find((o) => o.name === chosen);
  if (!output) throw new PssError(`${source} has no output ${quoted(chosen!)}; its outputs: ${list}`);
  const classes = num(output.type?.tensorType?.shape?.dim?.[1]?.dimValue);
  if (classes < 0)
    throw new PssError(
      `${source}: output ${quoted(output.name!)} claims ${classes} classes; a class count is positive`,
    );
  if (outputs.length > 1 && chosen === undefined)
    notes.push(
      `the model has ${outputs.length} outputs (${list}): using ${quoted(output.name!)} as class scores (choose with --output-name)`,
    );
  return output.name!;
}

/** How the graph ends: a Softmax, LogSoftmax or Sigmoid on the class scores, if any. */
export type Ending = 'logits' | 'softmax' | 'log-softmax' | 'sigmoid';

/** Ops that pass class scores on unchanged but for their shape. */
const PASS_THROUGH = new Set(['Identity', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Dropout', 'Cast']);
const ENDINGS: Readonly<Record<string, Ending>> = {
  Softmax: 'softmax',
  LogSoftmax: 'log-softmax',
  Sigmoid: 'sigmoid',
};

/**
 * The nodes with a final Softmax or Sigmoid replaced by an Identity, so the graph outputs the
 * scores before it (saliency needs logits: the cross-entropy of probabilities is not the
 * model's loss). A final LogSoftmax stays: log-probabilities are logits already, shifted by
 * their log-sum-exp, which cross-entropy and its gradients do not see.
 */
export function withoutFinalActivation(nodes: readonly NodeProto[], outputName: string) {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.output ?? []) producer.set(o, i);
  });
  let i = producer.get(outputName);
  while (i !== undefined && PASS_THROUGH.has(nodes[i].opType ?? ''))
    i = producer.get(nodes[i].input?.[0] ?? '');
  const last = i === undefined ? undefined : nodes[i];
  const ending: Ending = (last && isDefaultDomain(last.domain) && ENDINGS[last.opType ?? '']) || 'logits';
  if (ending !== 'softmax' && ending !== 'sigmoid') return { nodes, ending };
  const out = [...nodes];
  out[i!] = { opType: 'Identity', name: last!.name, input: [last!.input![0]], output: last!.output };
  return { nodes: out, ending };
}

/** What the notes say about the model's ending. */
export function endingNote(ending: Ending, classes: number): string | undefined {
  if (ending === 'softmax') return 'the model ends in Softmax: pss uses the scores before it as logits';
  if (ending === 'log-softmax')
    return 'the model ends in LogSoftmax: pss uses its log-probabilities as logits (they differ from the logits by a constant per image, which the cross-entropy and its gradients do not see)';
  if (ending === 'sigmoid')
    return classes === 1
      ? 'the model ends in Sigmoid on one score z: pss reads it as two classes, 0 (not) and 1 (yes), with logits [0, z] (softmax of them is [1 − σ(z), σ(z)])'
      : `the model ends in Sigmoid (independent scores per class): pss uses the scores before it as logits of a softmax over the ${classes} classes`;
  return undefined;
}

/** Tensor names an exporter made up (torch.onnx's onnx::Conv_123, numbered values), not a module's. */
const GENERATED_NAME = /^onnx::|^_v_|^v\d+$|^\d/;

/** torchvision's parameter name suffix for each role. */
const SUFFIX: Record<ParamRole, string> = {
  conv: 'weight',
  'conv-transpose': 'weight',
  linear: 'weight',
  bias: 'bias',
  'bn-weight': 'weight',
  'bn-bias': 'bias',
  'bn-mean': 'running_mean',
  'bn-var': 'running_var',
};

export interface OnnxParameter {
  role: ParamRole;
  /** The layer of the first node that reads it. */
  layer: string;
  /** pss's name for it. */
  name: string;
}

/**
 * The initializers in the weight, bias and statistics slots of Conv, ConvTranspose (a weight
 * without units: its output channels are axis 1), BatchNormalization, Gemm and MatMul, and the
 * biases of `adds` (a MatMul's bias Add), by initializer name in node order, and the conv
 * weights among them (in node order: the saliency order).
 */
export function parameters(
  nodes: readonly NodeProto[],
  initializers: ReadonlyMap<string, Const>,
  adds: readonly BiasAdd[] = [],
): { params: Map<string, OnnxParameter>; convs: string[] } {
  const roles = new Map<string, { role: ParamRole; layer: string }>();
  const convs: string[] = [];
  const biasOf = new Map(adds.map((a) => [a.output, a.bias]));
  nodes.forEach((n, i) => {
    const ins = n.input ?? [];
    const slot = (k: number, role: ParamRole) => {
      if (ins[k] && initializers.has(ins[k]) && !roles.has(ins[k]))
        roles.set(ins[k], { role, layer: layerName(n, i) });
    };
    if (n.opType === 'Conv') {
      slot(1, 'conv');
      slot(2, 'bias');
      // A weight two convs share is one parameter (its gradient sums both uses), listed once.
      if (ins[1] && roles.get(ins[1])?.role === 'conv' && !convs.includes(ins[1])) convs.push(ins[1]);
    } else if (n.opType === 'ConvTranspose') {
      slot(1, 'conv-transpose');
      slot(2, 'bias');
    } else if (n.opType === 'BatchNormalization') {
      (['bn-weight', 'bn-bias', 'bn-mean', 'bn-var'] as const).forEach((r, k) => {
        slot(k + 1, r);
      });
    } else if (n.opType === 'Gemm' || n.opType === 'MatMul') {
      slot(1, 'linear');
      slot(2, 'bias');
    } else if (n.opType === 'Add' && biasOf.has(n.output?.[0] ?? '')) {
      slot((n.input ?? []).indexOf(biasOf.get(n.output![0])!), 'bias');
    }
  });
  // Generated names give way to the layer's ("layer1.0.conv1.weight"), unless two parameters
  // would then share a name: then every parameter keeps its initializer's name.
  const named = [...roles].map(([k, r]) => (GENERATED_NAME.test(k) ? `${r.layer}.${SUFFIX[r.role]}` : k));
  const unique = new Set(named).size === named.length;
  const params = new Map([...roles].map(([k, r], i) => [k, { ...r, name: unique ? named[i] : k }]));
  return { params, convs };
}

/**
 * The MatMul → Add(bias) pairs: a MatMul whose B is a 2-D initializer [in, out] and whose
 * product only an Add reads, its other input an initializer of `out` values ([out] or
 * [1, ..., out]). The bias is the layer's, so a neuron's mask goes after the Add.
 */
export function biasAdds(
  nodes: readonly NodeProto[],
  initializers: ReadonlyMap<string, Const>,
  outputs: readonly string[] = [],
): BiasAdd[] {
  const readers = new Map<string, NodeProto[]>();
  for (const n of nodes) for (const i of n.input ?? []) readers.set(i, [...(readers.get(i) ?? []), n]);
  const out: BiasAdd[] = [];
  for (const n of nodes) {
    const [, weight] = n.input ?? [];
    const product = n.output?.[0];
    const w = weight ? initializers.get(weight) : undefined;
    if (n.opType !== 'MatMul' || !product || !w || w.shape.length !== 2 || outputs.includes(product))
      continue;
    const users = readers.get(product) ?? [];
    const add = users[0];
    if (users.length !== 1 || add.opType !== 'Add' || add.input?.length !== 2 || !add.output?.[0]) continue;
    const bias = add.input.find((i) => i !== product);
    const b = bias ? initializers.get(bias) : undefined;
    const features = w.shape[1];
    if (!bias || !b || b.kind !== 'float' || b.data.length !== features || b.shape.at(-1) !== features)
      continue;
    out.push({ weight, bias, product, output: add.output[0] });
  }
  return out;
}

/**
 * The linear weights that can hold neurons, by initializer, with their unit axis (DESIGN
 * §1.3): initializers read only as a Gemm's B ([out, in] with transB=1, rows; [in, out] with
 * transB=0, columns) or a MatMul's B ([in, out], columns — torch.onnx's nn.Linear on rank > 2,
 * tf2onnx's dense layers). Whether the op's output has the samples on axis 0, so a per-image
 * mask reaches them, the import's probe replay decides.
 */
export function neuronWeights(
  nodes: readonly NodeProto[],
  initializers: ReadonlyMap<string, Const>,
): Map<string, 0 | 1> {
  const axes = new Map<string, 0 | 1 | undefined>();
  for (const n of nodes)
    (n.input ?? []).forEach((name, k) => {
      if (!initializers.has(name)) return;
      const linear =
        k === 1 &&
        initializers.get(name)!.shape.length === 2 &&
        (n.opType === 'Gemm' || n.opType === 'MatMul');
      const axis = linear ? (n.opType === 'Gemm' && int(n, 'transB', 0) === 1 ? 0 : 1) : undefined;
      // every use must agree (a weight read twice, once transposed, has no one unit axis)
      axes.set(name, axes.has(name) && axes.get(name) !== axis ? undefined : axis);
    });
  return new Map([...axes].filter((e): e is [string, 0 | 1] => e[1] !== undefined));
}

/**
 * BatchNorm looks folded into the convs (torch.onnx in eval mode) when there is no
 * BatchNormalization, the convs have biases and their weights generated names; a model that
 * never had BatchNorm keeps its parameters' names (VGG: features.0.weight).
 */
export function batchNormFolded(nodes: readonly NodeProto[], convs: readonly string[]): boolean {
  const hasBN = nodes.some((n) => n.opType === 'BatchNormalization');
  const convBiases = nodes.some((n) => n.opType === 'Conv' && n.input?.[2]);
  return !hasBN && convBiases && convs.some((k) => GENERATED_NAME.test(k));
}

/** A readable layer name from the exporter's node name ("/layer1/layer1.0/conv1/Conv" → "layer1.0.conv1"). */
export function layerName(n: NodeProto, index: number): string {
  const parts = (n.name ?? '').split('/').filter(Boolean);
  if (parts.length && parts[parts.length - 1].startsWith(n.opType ?? '\0')) parts.pop();
  // Exporters repeat module prefixes ("layer1", "layer1.0"): keep the longer one.
  const segments: string[] = [];
  for (const p of parts) {
    if (segments.length && p.startsWith(`${segments[segments.length - 1]}.`))
      segments[segments.length - 1] = p;
    else segments.push(p);
  }
  return segments.join('.') || `${(n.opType ?? 'node').toLowerCase()}${index}`;
}
