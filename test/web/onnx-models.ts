/**
 * Small ONNX classifiers built in the test (no fixture files): convs with deterministic weights,
 * global average pooling and a linear head — and the shapes the explorer must refuse at upload
 * (no conv, two image inputs, a 4-D output).
 */
import onnxProto from 'onnx-proto';
import { deterministicParameter } from '../../src/models/deterministic.js';

interface Tensor {
  name: string;
  dims: number[];
}

const { onnx } = onnxProto;
const FLOAT = 1;

const valueInfo = (name: string, dims: (number | string)[]) => ({
  name,
  type: {
    tensorType: {
      elemType: FLOAT,
      shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
    },
  },
});

function initializer({ name, dims }: Tensor) {
  const data = deterministicParameter(name, dims);
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer) };
}

export interface ClassifierShape {
  /** Input channels (default 3). */
  channels?: number;
  /** Input height and width (default 32). */
  size?: number;
  /** Output channels of each 3×3 conv (default [8, 16]). */
  convs?: number[];
  classes?: number;
  /** What to get wrong: no conv at all, two inputs the graph reads, or the last conv's map as the output. */
  flaw?: 'no-conv' | 'two-inputs' | 'map-output';
}

/** An ONNX image classifier [1, C, S, S] → [1, classes]: Conv-Relu…, GlobalAveragePool, Flatten, Gemm. */
export function onnxClassifier(o: ClassifierShape = {}): Uint8Array {
  const channels = o.channels ?? 3;
  const size = o.size ?? 32;
  const convs = o.flaw === 'no-conv' ? [] : (o.convs ?? [8, 16]);
  const classes = o.classes ?? 10;
  const nodes: {
    opType: string;
    input: string[];
    output: string[];
    attribute?: { name: string; type: number; ints?: number[]; i?: number }[];
  }[] = [];
  const weights: Tensor[] = [];
  let x = 'x';
  if (o.flaw === 'two-inputs') {
    nodes.push({ opType: 'Add', input: ['x', 'x2'], output: ['sum'] });
    x = 'sum';
  }
  let c = channels;
  convs.forEach((out, i) => {
    const w = { name: `conv${i + 1}.weight`, dims: [out, c, 3, 3] };
    const b = { name: `conv${i + 1}.bias`, dims: [out] };
    weights.push(w, b);
    nodes.push({
      opType: 'Conv',
      input: [x, w.name, b.name],
      output: [`c${i}`],
      attribute: [
        { name: 'kernel_shape', type: 7, ints: [3, 3] },
        { name: 'pads', type: 7, ints: [1, 1, 1, 1] },
      ],
    });
    nodes.push({ opType: 'Relu', input: [`c${i}`], output: [`r${i}`] });
    x = `r${i}`;
    c = out;
  });
  let outputDims: number[] = [1, classes];
  if (o.flaw === 'map-output') outputDims = [1, c, size, size];
  else {
    nodes.push({ opType: 'GlobalAveragePool', input: [x], output: ['pooled'] });
    nodes.push({ opType: 'Flatten', input: ['pooled'], output: ['flat'] });
    const w = { name: 'fc.weight', dims: [classes, o.flaw === 'no-conv' ? channels : c] };
    const b = { name: 'fc.bias', dims: [classes] };
    weights.push(w, b);
    nodes.push({
      opType: 'Gemm',
      input: ['flat', w.name, b.name],
      output: ['y'],
      attribute: [{ name: 'transB', type: 2, i: 1 }],
    });
    x = 'y';
  }
  const inputs = [valueInfo('x', [1, channels, size, size])];
  if (o.flaw === 'two-inputs') inputs.push(valueInfo('x2', [1, channels, size, size]));
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'classifier',
      node: nodes.map((n, i) => ({ ...n, name: `n${i}` })),
      initializer: weights.map(initializer),
      input: inputs,
      output: [valueInfo(x, outputDims)],
    },
  }).finish();
}
