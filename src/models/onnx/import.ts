/**
 * Any ONNX image classifier (opset 11+) as a pss model: its nodes are replayed with pss's
 * differentiable ops, its conv weights become parameters (in node order), and shape
 * arithmetic (Shape/Gather/Concat... on static shapes) is evaluated at import time.
 *
 * decode.ts reads and checks the protobuf; inspect.ts finds the parts of a classifier;
 * replay.ts walks the nodes with the rules of operators.ts (graph ops) and static.ts
 * (constants); this file assembles the Model.
 */
import { PssError } from '../../errors.js';
import type { Value } from '../../graph/graph.js';
import { type Architecture, IMAGENET } from '../architecture.js';
import { Model } from '../model.js';
import type { Net } from '../nn.js';
import { decodeModel } from './decode.js';
import {
  batchNormFolded,
  classScores,
  imageInput,
  opsetOf,
  parameters,
  readInitializers,
  refuseUnsupported,
  withoutTrailingSoftmax,
} from './inspect.js';
import { replay } from './replay.js';

export interface OnnxImport {
  arch: Architecture;
  weights: Map<string, Float32Array>;
  /** True when the graph has convs with biases and no BatchNormalization: BN was folded at export. */
  batchNormFolded: boolean;
  /** A trailing Softmax was dropped so the model outputs logits. */
  droppedSoftmax: boolean;
  opset: number;
}

export function importOnnx(bytes: Uint8Array, source: string): OnnxImport {
  const { model, graph } = decodeModel(bytes, source);
  const opset = opsetOf(model, source);
  refuseUnsupported(graph.node, source);
  const initializers = readInitializers(graph, source);
  const input = imageInput(graph, initializers, source);
  const output = classScores(graph, source);
  const { nodes, logitsName, droppedSoftmax } = withoutTrailingSoftmax(graph.node, output.name);
  const { params, convs } = parameters(nodes, initializers);
  if (convs.length === 0)
    throw new PssError(
      `${source} has no convolution with constant weights: pss ranks convolution filters, and this model has none`,
    );

  const arch: Architecture = {
    name: source.replace(/^.*[\\/]/, '').replace(/\.onnx$/i, ''),
    description: `ONNX model ${source}`,
    defaultClasses: output.classes,
    inputShape: input.shape,
    classifier: '',
    preprocessing: IMAGENET,
    define(net: Net) {
      // Convs first, in node order (the saliency order); then the other parameters.
      const getters = new Map<string, () => Value>();
      for (const k of [...convs, ...[...params.keys()].filter((k) => !convs.includes(k))]) {
        const p = params.get(k)!;
        const buffer = p.role === 'bn-mean' || p.role === 'bn-var';
        getters.set(k, net.parameter(p.name, initializers.get(k)!.shape, p.role, buffer));
      }
      return (x: Value) =>
        replay({
          nodes,
          x,
          inputName: input.name,
          outputName: logitsName,
          initializers,
          params: getters,
          convOutput: (k, y) => net.convOutput(params.get(k)!.name, y),
          opset,
          source,
        });
    },
  };
  return {
    arch,
    weights: new Map([...params].map(([k, p]) => [p.name, Float32Array.from(initializers.get(k)!.data)])),
    batchNormFolded: batchNormFolded(nodes, convs),
    droppedSoftmax,
    opset,
  };
}

/** An ONNX classifier file as a Model. */
export function onnxModel(bytes: Uint8Array, source: string): Model {
  const imported = importOnnx(bytes, source);
  const notes = [];
  if (imported.batchNormFolded)
    notes.push(
      'BatchNorm appears folded into the convs (no BatchNormalization, conv biases, generated weight names): raw saliency differs by a per-filter factor; z-scores with statistics of this same file are unaffected',
    );
  if (imported.droppedSoftmax) notes.push('the final Softmax was dropped to obtain logits');
  if (!imported.arch.defaultClasses)
    throw new PssError(`${source}: the number of classes (output shape [N, K]) is not static`);
  return new Model(imported.arch, imported.arch.defaultClasses, imported.weights, source, {
    batchNormFolded: imported.batchNormFolded,
    notes,
  });
}
