/**
 * Formulations for ONNX Runtime's WebGPU provider (1.30). Two of its kernels vectorise
 * channels across group boundaries and give wrong numbers (found on SwiftShader, traced to
 * the shader code, so the same on every GPU; test/runtime/webgpu-kernels.test.ts):
 *  - Conv with groups, when each group has 4 or more output channels: the channel vector
 *    width comes from the total output channel count (4 when it divides by 4, else 2 when
 *    even), and a vector that straddles two groups reads the first group's input
 *    (grouped_conv / conv.cc: `GetMaxComponents(output_channels)`);
 *  - ConvTranspose with groups, one output channel and an even number, 4 or more, of input
 *    channels per group (conv_backprop.cc's `pack_input_as4` path with vectors of 2 or 4;
 *    an odd count is read as scalars and is right).
 * pss's patch extraction (im2col, MaxPool's rule: a Conv with one group per channel and
 * kh*kw outputs per group) and its adjoint hit both. Before a graph goes to that provider,
 * each such node is rewritten into the same map with every group padded by zero filters to
 * a width the kernel handles, and the padding sliced off again.
 */
import type { Node, Value } from '../graph/graph.js';
import { type GraphOutput, reachableNodes } from '../graph/onnx.js';
import type { ConvAttrs } from '../ops/attrs.js';
import { concat, conv, convTranspose, reshape, slice } from '../ops/builders.js';

type Conv = ConvAttrs & { output_padding?: readonly number[] };

/** ONNX Runtime WebGPU's channel vector width for a channel count (GetMaxComponents). */
const components = (n: number) => (n % 4 === 0 ? 4 : n % 2 === 0 ? 2 : 1);

/** The output channels per group to pad a Conv to, or undefined when the kernel is right. */
export function convPadding(outChannels: number, group: number): number | undefined {
  const mg = outChannels / group;
  if (group === 1 || mg < 4 || mg % components(outChannels) === 0) return undefined;
  return Math.ceil(mg / 4) * 4;
}

/** The output channels per group to pad a ConvTranspose to, or undefined when the kernel is right. */
export function convTransposePadding(
  inChannels: number,
  outPerGroup: number,
  group: number,
): number | undefined {
  const cg = inChannels / group;
  return group > 1 && outPerGroup === 1 && cg >= 4 && components(cg) > 1 ? 2 : undefined;
}

/** `outputs` with every node the WebGPU provider gets wrong rewritten (the same graph, new nodes). */
export function forWebGpu(outputs: readonly GraphOutput[]): GraphOutput[] {
  const map = new Map<Value, Value>();
  const get = (v: Value) => map.get(v) ?? v;
  for (const node of reachableNodes(outputs.map((o) => o.value))) {
    const inputs = node.inputs.map(get);
    const replaced = rewrite(node, inputs);
    if (replaced) map.set(node.output, replaced);
    else if (inputs.some((v, i) => v !== node.inputs[i]))
      map.set(node.output, node.output.graph.addNode(node.op, inputs, node.attrs));
  }
  return outputs.map((o) => ({ name: o.name, value: get(o.value) }));
}

function rewrite(node: Node, [x, w, b]: Value[]): Value | undefined {
  const a = node.attrs as unknown as Conv;
  if (node.op === 'Conv') {
    const m = w.shape[0];
    const mp = convPadding(m, a.group);
    if (mp === undefined) return undefined;
    const y = conv(x, padGroups(w, a.group, mp, 0), b && padGroups(b, a.group, mp, 0), a);
    return unpad(y, a.group, m / a.group, mp);
  }
  if (node.op === 'ConvTranspose') {
    const mp = convTransposePadding(w.shape[0], w.shape[1], a.group);
    if (mp === undefined) return undefined;
    const y = convTranspose(x, padGroups(w, 1, mp, 1), b && padGroups(b, a.group, mp, 0), {
      ...a,
      outputPadding: a.output_padding,
    });
    return unpad(y, a.group, w.shape[1], mp);
  }
  return undefined;
}

/**
 * Axis `axis` of t read as `groups` blocks, each padded with zeros to `width` entries.
 * A constant is padded here; anything else by a Concat with zeros.
 */
function padGroups(t: Value, groups: number, width: number, axis: number): Value {
  const before = t.shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const per = t.shape[axis] / groups;
  const after = t.shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  const shape = [...t.shape.slice(0, axis), groups * width, ...t.shape.slice(axis + 1)];
  const g = t.graph;
  const zeros = (size: number) => (t.dtype === 'float64' ? new Float64Array(size) : new Float32Array(size));
  if (t.data instanceof Float32Array || t.data instanceof Float64Array) {
    const src = t.data;
    const out = zeros(before * groups * width * after);
    for (let i = 0; i < before; i++)
      for (let k = 0; k < groups; k++)
        out.set(
          src.subarray((i * groups + k) * per * after, ((i * groups + k) * per + per) * after),
          (i * groups + k) * width * after,
        );
    return g.constant(out, shape);
  }
  const blocks = reshape(t, [before, groups, per, after]);
  const fill = g.constant(zeros(before * groups * (width - per) * after), [
    before,
    groups,
    width - per,
    after,
  ]);
  return reshape(concat([blocks, fill], 2), shape);
}

/** Drops the padded channels of every group again: [N, G*width, H, W] to [N, G*per, H, W]. */
function unpad(y: Value, groups: number, per: number, width: number): Value {
  const [n, , h, w] = y.shape;
  const blocks = slice(reshape(y, [n, groups, width, h, w]), [0], [per], [2]);
  return reshape(blocks, [n, groups * per, h, w]);
}
