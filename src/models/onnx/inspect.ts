/**
 * What the importer learns from a decoded model before replaying it: the opset, the operators
 * pss cannot import, the image input and the class-score output, a trailing Softmax, which
 * initializers are parameters (their roles, layers and names), and whether BatchNorm was folded.
 */
import { PssError } from '../../errors.js';
import type { ParamRole } from '../nn.js';
import {
  type Const,
  type GraphProto,
  isDefaultDomain,
  type ModelProto,
  type NodeProto,
  num,
  tensorConst,
} from './decode.js';
import { isSupported } from './replay.js';

/** The opset of the default domain; pss reads 11 and newer. */
export function opsetOf(model: ModelProto, source: string): number {
  const opset = num(model.opsetImport?.find((o) => isDefaultDomain(o.domain))?.version);
  if (opset < 11)
    throw new PssError(`${source} uses opset ${opset}; pss reads opset 11 or newer (re-export it)`);
  return opset;
}

/** Refuses a model with operators pss cannot import, naming all of them (others' with their domain). */
export function refuseUnsupported(nodes: readonly NodeProto[], source: string): void {
  const unsupported = [
    ...new Set(
      nodes
        .filter((n) => !isDefaultDomain(n.domain) || !isSupported(n.opType ?? ''))
        .map((n) => (isDefaultDomain(n.domain) ? (n.opType ?? '') : `${n.opType} (domain ${n.domain})`)),
    ),
  ].sort();
  if (unsupported.length)
    throw new PssError(`${source} uses ONNX operators pss cannot differentiate: ${unsupported.join(', ')}`);
}

export function readInitializers(graph: GraphProto, source: string): Map<string, Const> {
  const initializers = new Map<string, Const>();
  for (const t of graph.initializer ?? []) initializers.set(t.name!, tensorConst(t, source));
  return initializers;
}

/** The image input: the first graph input that is not an initializer, NCHW; [C, H, W] where static. */
export function imageInput(
  graph: GraphProto,
  initializers: ReadonlyMap<string, Const>,
  source: string,
): { name: string; shape: [number, number, number] } {
  const input = (graph.input ?? []).find((i) => !initializers.has(i.name!));
  if (!input) throw new PssError(`${source} has no image input`);
  const dims = input.type?.tensorType?.shape?.dim ?? [];
  if (dims.length !== 4) throw new PssError(`${source}: input "${input.name}" is not an NCHW image tensor`);
  const fixed = dims.map((d) => (d.dimValue != null && num(d.dimValue) > 0 ? num(d.dimValue) : undefined));
  return { name: input.name!, shape: [fixed[1] ?? 3, fixed[2] ?? 224, fixed[3] ?? 224] };
}

/** The first graph output, which must be class scores [N, classes]; classes is 0 where not static. */
export function classScores(graph: GraphProto, source: string): { name: string; classes: number } {
  const output = graph.output?.[0];
  if (!output?.name) throw new PssError(`${source} has no output`);
  const dims = output.type?.tensorType?.shape?.dim;
  if (dims && dims.length !== 2)
    throw new PssError(
      `${source}: output "${output.name}" has ${dims.length} dimensions; pss needs class scores of shape [N, classes] (is this an image classifier?)`,
    );
  const classes = num(dims?.[1]?.dimValue) || 0;
  if (classes < 0)
    throw new PssError(
      `${source}: output "${output.name}" claims ${classes} classes; a class count is positive`,
    );
  return { name: output.name, classes };
}

/** The nodes without a Softmax that ends the graph: saliency needs logits. */
export function withoutTrailingSoftmax(nodes: readonly NodeProto[], outputName: string) {
  const last = nodes[nodes.length - 1];
  const dropped = last.opType === 'Softmax' && last.output?.[0] === outputName;
  return dropped
    ? { nodes: nodes.slice(0, -1), logitsName: last.input![0], droppedSoftmax: true }
    : { nodes, logitsName: outputName, droppedSoftmax: false };
}

/** Tensor names an exporter made up (torch.onnx's onnx::Conv_123, numbered values), not a module's. */
const GENERATED_NAME = /^onnx::|^_v_|^v\d+$|^\d/;

/** torchvision's parameter name suffix for each role. */
const SUFFIX: Record<ParamRole, string> = {
  conv: 'weight',
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
 * The initializers in the weight, bias and statistics slots of Conv, BatchNormalization, Gemm
 * and MatMul, by initializer name in node order, and the conv weights among them (in node
 * order: the saliency order).
 */
export function parameters(
  nodes: readonly NodeProto[],
  initializers: ReadonlyMap<string, Const>,
): { params: Map<string, OnnxParameter>; convs: string[] } {
  const roles = new Map<string, { role: ParamRole; layer: string }>();
  const convs: string[] = [];
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
    } else if (n.opType === 'BatchNormalization') {
      (['bn-weight', 'bn-bias', 'bn-mean', 'bn-var'] as const).forEach((r, k) => {
        slot(k + 1, r);
      });
    } else if (n.opType === 'Gemm' || n.opType === 'MatMul') {
      slot(1, 'linear');
      slot(2, 'bias');
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
