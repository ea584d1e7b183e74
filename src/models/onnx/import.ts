/**
 * Any ONNX image classifier (opsets 7-21) as a pss model: its nodes are upgraded to their
 * opset-21 form, replayed with pss's differentiable ops, its conv weights become parameters
 * (in node order), and shape arithmetic is evaluated at import time.
 *
 * decode.ts reads and checks the protobuf; opsets.ts upgrades older forms; inspect.ts finds the
 * parts of a classifier; replay.ts walks the nodes with the rules of operators.ts and
 * movement.ts (graph ops) and static.ts (constants); this file assembles the Model.
 */
import { PssError, quoted } from '../../errors.js';
import { Graph, type Value } from '../../graph/graph.js';
import * as op from '../../ops/index.js';
import { type Architecture, IMAGENET, type Preprocessing } from '../architecture.js';
import { Model } from '../model.js';
import { Net } from '../nn.js';
import { type LinearUnits, unitLayerName } from '../units.js';
import { type Const, decodeModel, int, type NodeProto, withBranches } from './decode.js';
import type { ExternalData } from './external.js';
import {
  type BiasAdd,
  batchNormFolded,
  biasAdds,
  type Ending,
  endingNote,
  type ImageInput,
  imageInput,
  neededFor,
  neuronWeights,
  opsetOf,
  parameters,
  readInitializers,
  refuseUnsupported,
  scoresOutput,
  withoutFinalActivation,
} from './inspect.js';
import { upgradeNodes } from './opsets.js';
import { replay } from './replay.js';

export interface OnnxOptions {
  /** The graph input to feed the image to (default: the first rank-4 input). */
  inputName?: string;
  /** The graph output that holds the class scores (default: the first of rank 2). */
  outputName?: string;
  /** How images become inputs (default: torchvision's ImageNet transform). */
  preprocessing?: Preprocessing;
  /** [height, width] for dimensions the file leaves dynamic (default: the preprocessing's size, else 224). */
  inputSize?: readonly [number, number];
  /** Reads tensors kept in files beside the model (external data); without it they are refused. */
  externalData?: ExternalData;
}

export interface OnnxImport {
  arch: Architecture;
  weights: Map<string, Float32Array>;
  /** True when the graph has convs with biases and no BatchNormalization: BN was folded at export. */
  batchNormFolded: boolean;
  /** How the graph ended: a final Softmax or Sigmoid was dropped, a LogSoftmax kept. */
  ending: Ending;
  /** The input pss feeds (its layout and static size). */
  input: ImageInput;
  /** The output read as class scores. */
  outputName: string;
  opset: number;
  /** What pss chose or assumed, for the user (several inputs or outputs, NHWC, the ending...). */
  notes: string[];
}

/** Set when a Sigmoid's one score became two classes (the note tells of the one score). */
type OneScore = { seen: boolean };

/** The file's graph as a forward function on pss's graph (NCHW input, [N, classes] logits). */
function forward(
  nodes: readonly NodeProto[],
  input: ImageInput,
  outputName: string,
  ending: Ending,
  oneScore: OneScore,
  base: Omit<Parameters<typeof replay>[0], 'nodes' | 'x' | 'inputName' | 'outputName'>,
) {
  return (x: Value): Value => {
    const fed = input.layout === 'NHWC' ? op.transpose(x, [0, 2, 3, 1]) : x;
    let y = replay({ ...base, nodes, x: fed, inputName: input.name, outputName });
    const [n] = x.shape;
    if (y.rank !== 2 && y.rank >= 2 && y.shape.slice(2).every((d) => d === 1))
      y = op.reshape(y, [n, y.shape[1]]);
    if (y.rank !== 2 || y.shape[0] !== n)
      throw new PssError(
        `${base.source}: output ${quoted(outputName)} has ${y.rank} dimensions; pss needs class scores of shape [N, classes] (is this an image classifier?), and it is [${y.shape.join(', ')}] for an input of [${x.shape.join(', ')}]`,
      );
    // one sigmoid score z: the two-class logits [0, z]
    if (ending === 'sigmoid' && y.shape[1] === 1) {
      oneScore.seen = true;
      y = op.concat([op.sub(y, y), y], 1);
    }
    return y;
  };
}

export function importOnnx(bytes: Uint8Array, source: string, options: OnnxOptions = {}): OnnxImport {
  const { model, graph } = decodeModel(bytes, source);
  const opset = opsetOf(model, source);
  const initializers = readInitializers(graph, source, options.externalData);
  const upgraded = upgradeNodes(graph.node, opset, initializers, source);
  const notes: string[] = [];
  const chosenOutput = scoresOutput(graph, options.outputName, source, notes);
  const outputName = upgraded.aliases.get(chosenOutput) ?? chosenOutput;
  const needed = neededFor(upgraded.nodes, outputName);
  refuseUnsupported(needed, source);
  const input = imageInput(graph, initializers, needed, options.inputName, source, notes);
  const { nodes, ending } = withoutFinalActivation(needed, outputName);
  const adds = biasAdds(nodes, initializers, [outputName]);
  // a weight read in an If's branch is a parameter too (zero gradient where the branch is not taken)
  const { params, convs } = parameters(withBranches(nodes), initializers, adds);
  if (convs.length === 0)
    throw new PssError(
      `${source} has no convolution with constant weights: pss ranks convolution filters, and this model has none`,
    );
  const constants = new Map([...initializers, ...upgraded.constants]);
  const preprocessing = options.preprocessing ?? IMAGENET;
  const dynamic = input.height === undefined || input.width === undefined;
  const [h, w] = options.inputSize ?? [224, 224];
  const inputShape = [input.channels, input.height ?? h, input.width ?? w] as const;

  const oneScore: OneScore = { seen: false };
  // The weights that can hold units first — convs and linears, in node order (the saliency
  // order; kinds interleaved, as torchvision's state_dict has them) — then the other parameters.
  const unitWeights = [...params.keys()].filter((k) => convs.includes(k) || params.get(k)!.role === 'linear');
  const define = (net: Net) => {
    const getters = new Map<string, () => Value>();
    for (const k of [...unitWeights, ...[...params.keys()].filter((k) => !unitWeights.includes(k))]) {
      const p = params.get(k)!;
      const buffer = p.role === 'bn-mean' || p.role === 'bn-var';
      getters.set(k, net.parameter(p.name, initializers.get(k)!.shape, p.role, buffer));
    }
    return forward(nodes, input, outputName, ending, oneScore, {
      initializers: constants,
      params: getters,
      convOutput: (k, y) => net.convOutput(params.get(k)!.name, y),
      linearOutput: (k, y) => net.linearOutput(params.get(k)!.name, y),
      biasAdds: adds,
      source,
    });
  };
  // One replay now, on placeholders, finds the class count and any problem at load time — and
  // which linear ops have the samples on axis 0 of their output (rows at batch 1 and 2): those
  // hold neurons the unit mask can reach per image. A Gemm on tokens [N·T, E] (as
  // MultiheadAttention's out_proj exports) or a MatMul on [T, N, E] (its in-projection) does not.
  const probeAt = (batch: number) => {
    const graph = new Graph(op.OPS);
    const rows = new Map<string, boolean>();
    const probeNet = new Net({
      graph,
      param: (p) => graph.input(p.name, p.shape),
      linearOutput: (weight, y) => {
        rows.set(weight, (rows.get(weight) ?? true) && y.rank >= 2 && y.shape[0] === batch);
        return y;
      },
    });
    return { logits: define(probeNet)(graph.input('input', [batch, ...inputShape])), rows };
  };
  const { logits, rows } = probeAt(1);
  // at batch 1, [T, 1, E] with T = 1 looks per sample too: batch 2 tells — and whether the file
  // takes more than one image at all (a Reshape to [T, heads, d] exported at batch 1 does not)
  let rows2: Map<string, boolean> | undefined;
  try {
    rows2 = probeAt(2).rows;
  } catch {
    notes.push(
      'the file fixes a batch of one image in its shapes (exported at batch 1): pss runs it one image at a time',
    );
  }
  // a Sigmoid on one score became two classes: the note tells of the one score
  const classes = oneScore.seen ? 1 : logits.shape[1];
  const note = endingNote(ending, classes);
  if (note) notes.push(note);
  if (dynamic)
    notes.push(
      `the input size is dynamic (${input.height ?? 'H'}x${input.width ?? 'W'}); pss builds the graph for each input's size (default ${inputShape[1]}x${inputShape[2]})`,
    );

  const unitLinears = new Map<string, LinearUnits>();
  const unitBiases = new Map<string, string>();
  const leftOut: string[] = [];
  for (const [k, axis] of neuronWeights(nodes, initializers)) {
    const { name } = params.get(k)!;
    if (!rows.has(name)) continue;
    if (!rows.get(name) || rows2?.get(name) === false) {
      leftOut.push(unitLayerName(name));
      continue;
    }
    unitLinears.set(name, { axis });
  }
  for (const k of unitWeights) {
    const bias = weightBias(nodes, k, adds, initializers);
    if (bias && params.get(bias)?.role === 'bias')
      unitBiases.set(params.get(k)!.name, params.get(bias)!.name);
  }
  if (leftOut.length)
    notes.push(
      `with --units filters+neurons or all, ${leftOut.length} linear layer${leftOut.length === 1 ? ' is' : 's are'} left out (${leftOut.slice(0, 3).join(', ')}${leftOut.length > 3 ? ', …' : ''}): ${leftOut.length === 1 ? 'its output does' : 'their outputs do'} not hold the images on axis 0 (tokens flattened into rows, or the batch on axis 1), so a neuron cannot be turned off for one image`,
    );

  const arch: Architecture = {
    name: source.replace(/^.*[\\/]/, '').replace(/\.onnx$/i, ''),
    description: `ONNX model ${source}`,
    defaultClasses: logits.shape[1],
    inputShape,
    dynamicSize: dynamic,
    ...(rows2 ? {} : { maxBatch: 1 }),
    classifier: '',
    preprocessing,
    unitLinears,
    unitBiases,
    define,
  };
  return {
    arch,
    weights: new Map(
      [...params].map(([k, p]) => {
        const data = initializers.get(k)!.data;
        return [p.name, data instanceof Float32Array ? data : Float32Array.from(data)];
      }),
    ),
    batchNormFolded: batchNormFolded(nodes, convs),
    ending,
    input,
    outputName: chosenOutput,
    opset,
    notes,
  };
}

/**
 * The bias added to a weight's outputs, one entry per output feature: a Conv's or Gemm's third
 * input, or a MatMul's bias Add (a Gemm's C of [N, out] is no neuron's bias).
 */
function weightBias(
  nodes: readonly NodeProto[],
  weight: string,
  adds: readonly BiasAdd[],
  initializers: ReadonlyMap<string, Const>,
): string | undefined {
  const add = adds.find((a) => a.weight === weight);
  if (add) return add.bias;
  const n = nodes.find((m) => (m.opType === 'Gemm' || m.opType === 'Conv') && m.input?.[1] === weight);
  const c = n?.input?.[2];
  if (!n || !c) return undefined;
  const w = initializers.get(weight)!.shape;
  const features = n.opType === 'Conv' || int(n, 'transB', 0) === 1 ? w[0] : w[1];
  return initializers.get(c)?.data.length === features ? c : undefined;
}

/** An ONNX classifier file as a Model. */
export function onnxModel(bytes: Uint8Array, source: string, options: OnnxOptions = {}): Model {
  const imported = importOnnx(bytes, source, options);
  const notes = [...imported.notes];
  if (imported.batchNormFolded)
    notes.push(
      'BatchNorm appears folded into the convs (no BatchNormalization, conv biases, generated weight names): raw saliency differs by a per-filter factor; z-scores with statistics of this same file are unaffected',
    );
  const { opset, input, outputName: output, ending } = imported;
  return new Model(imported.arch, imported.arch.defaultClasses, imported.weights, source, {
    batchNormFolded: imported.batchNormFolded,
    notes,
    onnx: { opset, input: input.name, layout: input.layout, output, ending },
  });
}
