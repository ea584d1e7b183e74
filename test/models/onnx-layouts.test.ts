/**
 * Spatial layouts that exported classifiers hold beyond 2-D NCHW (src/models/onnx/spatial.ts):
 * pools over 1 or 3 spatial axes (torch's nn.LocalResponseNorm pools a 5-D tensor with a
 * (size, 1, 1) window), Conv over 1 axis (ECA-Net's channel attention), DepthToSpace in both
 * modes (torch's PixelShuffle) and SpaceToDepth, and ConvTranspose. Each small graph gives the
 * logits ONNX Runtime gives running the same file, and its gradients in the input and every
 * parameter pass finite-difference checks to second order.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PssError } from '../../src/errors.js';
import { onnxModel } from '../../src/models/onnx-import.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { pairAndAlone } from '../helpers/batch.js';
import { maxRelDiff } from '../helpers/fixtures.js';
import { type Attr, type Node, onnxNode, tinyOnnx } from '../helpers/onnx.js';
import { CASE_IMAGE, CASE_SHAPE, caseBytes, checkCase, type OnnxCase } from '../helpers/onnx-case.js';
import { maskedLogits, plainLogits, zeroUnits } from '../helpers/zero-by-hand.js';

const ints = (name: string, v: number[]): Attr => ({ name, ints: v, type: 7 });
const int = (name: string, v: number): Attr => ({ name, i: v, type: 2 });
const str = (name: string, v: string): Attr => ({ name, s: new TextEncoder().encode(v), type: 3 });
const node = (opType: string, input: string[], output: string[], ...attribute: Attr[]) =>
  onnxNode(opType, input, output, attribute);

/** The image conv every case has (pss ranks conv filters): [1, 3, 8, 8] → [1, c, 8, 8]. */
const conv = (x: string, out: string, c = 4): Node =>
  node('Conv', [x, `w:${c}x3x3x3`, `b:${c}`], [out], ints('pads', [1, 1, 1, 1]));
const flatten = (x: string): Node => node('Flatten', [x], ['y']);

type Case = OnnxCase;
const bytesOf = caseBytes;
const SHAPE = CASE_SHAPE;
const image = CASE_IMAGE;

/** x viewed 5-D ("u5": [1, 3, 4, 2, 8], H split in two), pooled by `pool` ("p5"), viewed [1, 3, 4, 4] for the conv. */
const pooled5d = (pool: Node): Node[] => [
  node('Reshape', ['x', 'split5'], ['u5']),
  pool,
  node('Reshape', ['p5', 'back4'], ['p4']),
  conv('p4', 'c'),
  flatten('c'),
];
const POOL5_CONSTANTS = { split5: [1, 3, 4, 2, 8], back4: [1, 3, 4, 4] };
/** A 1-D view [1, 3, 64] of x pooled by `pool` ("p1"), viewed 2-D again for the conv. */
const pooled1d = (pool: Node, width: number): Node[] => [
  node('Reshape', ['x', 'flat3'], ['l']),
  pool,
  node('Reshape', ['p1', `rows${width}`], ['p4']),
  conv('p4', 'c'),
  flatten('c'),
];
const POOL_CONSTANTS = { flat3: [1, 3, 64], rows32: [1, 3, 4, 8] };

const POOLS: Case[] = [
  {
    // torch.onnx's nn.LocalResponseNorm(3): Pad the channel axis, AveragePool (3, 1, 1)
    name: 'AveragePool (3, 1, 1) over [N, 1, C, H, W] after a Pad, as LocalResponseNorm exports',
    nodes: [
      conv('x', 'c'),
      node('Mul', ['c', 'c'], ['sq']),
      node('Unsqueeze', ['sq', 'axis1'], ['u5']),
      node('Pad', ['u5', 'lrnpads'], ['padded']),
      node('AveragePool', ['padded'], ['p5'], ints('kernel_shape', [3, 1, 1]), ints('strides', [1, 1, 1])),
      node('Squeeze', ['p5', 'axis1'], ['p4']),
      node('Add', ['p4', 'one'], ['den']),
      node('Div', ['c', 'den'], ['lrn']),
      flatten('lrn'),
    ],
    constants: { axis1: [1], lrnpads: [0, 0, 1, 0, 0, 0, 0, 1, 0, 0], one: [1.5] },
  },
  {
    name: 'AveragePool 3-D with its pads on the one pooled axis (count_include_pad 0 and 1)',
    nodes: [
      node('Unsqueeze', ['x', 'axis1'], ['u5']),
      node('AveragePool', ['u5'], ['a5'], ints('kernel_shape', [2, 1, 1]), ints('pads', [1, 0, 0, 0, 0, 0])),
      node(
        'AveragePool',
        ['a5'],
        ['p5'],
        ints('kernel_shape', [3, 1, 1]),
        ints('pads', [1, 0, 0, 1, 0, 0]),
        int('count_include_pad', 1),
      ),
      node('Squeeze', ['p5', 'axis1'], ['p4']),
      conv('p4', 'c'),
      flatten('c'),
    ],
    constants: { axis1: [1] },
  },
  {
    name: 'MaxPool 3-D pooling two axes around a trivial one (kernel (2, 1, 2), strides (2, 1, 2))',
    nodes: pooled5d(
      node('MaxPool', ['u5'], ['p5'], ints('kernel_shape', [2, 1, 2]), ints('strides', [2, 1, 2])),
    ),
    constants: POOL5_CONSTANTS,
  },
  {
    name: 'AveragePool 3-D pooling the first two axes, a trivial last one (kernel (2, 2, 1), strides (2, 2, 1))',
    nodes: pooled5d(
      node('AveragePool', ['u5'], ['p5'], ints('kernel_shape', [2, 2, 1]), ints('strides', [2, 2, 1])),
    ),
    constants: POOL5_CONSTANTS,
  },
  {
    name: 'MaxPool 3-D pooling the last two axes with pads, a trivial first one',
    nodes: pooled5d(
      node(
        'MaxPool',
        ['u5'],
        ['p5'],
        ints('kernel_shape', [1, 3, 3]),
        ints('strides', [1, 2, 2]),
        ints('pads', [0, 1, 1, 0, 1, 1]),
      ),
    ),
    constants: POOL5_CONSTANTS,
  },
  {
    name: 'MaxPool 1-D (kernel 3, stride 2, pads 1, 1)',
    nodes: pooled1d(
      node('MaxPool', ['l'], ['p1'], ints('kernel_shape', [3]), ints('strides', [2]), ints('pads', [1, 1])),
      32,
    ),
    constants: POOL_CONSTANTS,
  },
  {
    name: 'MaxPool 1-D with ceil_mode (kernel 3, stride 2: a last partial window)',
    nodes: pooled1d(
      node('MaxPool', ['l'], ['p1'], ints('kernel_shape', [3]), ints('strides', [2]), int('ceil_mode', 1)),
      32,
    ),
    constants: POOL_CONSTANTS,
  },
  {
    name: 'AveragePool 1-D (kernel 4, stride 2, pads 1, 2, count_include_pad 0)',
    nodes: pooled1d(
      node(
        'AveragePool',
        ['l'],
        ['p1'],
        ints('kernel_shape', [4]),
        ints('strides', [2]),
        ints('pads', [1, 2]),
      ),
      32,
    ),
    constants: POOL_CONSTANTS,
  },
  {
    name: 'AveragePool 1-D with auto_pad SAME_UPPER (kernel 3, stride 2: an odd total padding)',
    nodes: pooled1d(
      node(
        'AveragePool',
        ['l'],
        ['p1'],
        ints('kernel_shape', [3]),
        ints('strides', [2]),
        str('auto_pad', 'SAME_UPPER'),
      ),
      32,
    ),
    constants: POOL_CONSTANTS,
  },
];

const CONV1D: Case[] = [
  {
    // ECA-Net: AdaptiveAvgPool2d(1), squeeze, Conv1d(1, 1, k) over the channels, sigmoid, multiply
    name: 'ECA channel attention: Conv1d over the channel axis (kernel 3, pads 1, 1, no bias)',
    nodes: [
      conv('x', 'c', 6),
      node('GlobalAveragePool', ['c'], ['gap']),
      node('Reshape', ['gap', 'chan'], ['seq']),
      node('Conv', ['seq', 'eca:1x1x3'], ['att'], ints('pads', [1, 1]), ints('kernel_shape', [3])),
      node('Reshape', ['att', 'back'], ['att4']),
      node('Sigmoid', ['att4'], ['gate']),
      node('Mul', ['c', 'gate'], ['m']),
      flatten('m'),
    ],
    constants: { chan: [0, 1, 6], back: [0, 6, 1, 1] },
  },
  {
    name: 'Conv1d with groups, stride, dilation, asymmetric pads and a bias',
    nodes: [
      conv('x', 'c'),
      node('Reshape', ['c', 'flat'], ['l']),
      node(
        'Conv',
        ['l', 'w1:6x2x3', 'b1:6'],
        ['y1'],
        int('group', 2),
        ints('strides', [2]),
        ints('dilations', [2]),
        ints('pads', [2, 1]),
      ),
      flatten('y1'),
    ],
    constants: { flat: [0, 4, 64] },
  },
  {
    name: 'Conv1d with auto_pad SAME_LOWER (kernel 4, stride 3)',
    nodes: [
      conv('x', 'c'),
      node('Reshape', ['c', 'flat'], ['l']),
      node('Conv', ['l', 'w1:5x4x4'], ['y1'], ints('strides', [3]), str('auto_pad', 'SAME_LOWER')),
      flatten('y1'),
    ],
    constants: { flat: [0, 4, 64] },
  },
];

const BLOCKS: Case[] = [
  ...(['DCR', 'CRD'] as const).map((mode) => ({
    name: `DepthToSpace ${mode} (blocksize 2, 8 channels to 2)`,
    nodes: [
      conv('x', 'c', 8),
      node('DepthToSpace', ['c'], ['d'], int('blocksize', 2), str('mode', mode)),
      flatten('d'),
    ],
  })),
  {
    name: 'DepthToSpace without a mode (DCR) after a SpaceToDepth of 4',
    nodes: [
      conv('x', 'c'),
      node('SpaceToDepth', ['c'], ['s'], int('blocksize', 4)),
      node('Mul', ['s', 'ramp:64x1x1'], ['r']),
      node('DepthToSpace', ['r'], ['d'], int('blocksize', 2)),
      flatten('d'),
    ],
  },
  {
    name: 'SpaceToDepth (blocksize 2)',
    nodes: [conv('x', 'c'), node('SpaceToDepth', ['c'], ['s'], int('blocksize', 2)), flatten('s')],
  },
];

/** conv → ConvTranspose with `attrs` and weight `w` (and bias `b`) → flatten. */
const transposed = (w: string, b: string | undefined, ...attrs: Attr[]): Node[] => [
  conv('x', 'c'),
  node('ConvTranspose', b ? ['c', w, b] : ['c', w], ['t'], ...attrs),
  flatten('t'),
];

const TRANSPOSED: Case[] = [
  {
    name: 'ConvTranspose stride 2, pads 1, output_padding 1, bias (as torch exports ConvTranspose2d)',
    nodes: transposed(
      'wt:4x3x3x3',
      'bt:3',
      ints('strides', [2, 2]),
      ints('pads', [1, 1, 1, 1]),
      ints('output_padding', [1, 1]),
      ints('kernel_shape', [3, 3]),
    ),
  },
  {
    name: 'ConvTranspose with 2 groups, dilations (2, 1), strides (1, 2), asymmetric pads',
    nodes: transposed(
      'wt:4x2x3x2',
      'bt:4',
      int('group', 2),
      ints('dilations', [2, 1]),
      ints('strides', [1, 2]),
      ints('pads', [0, 1, 2, 0]),
    ),
  },
  {
    name: 'ConvTranspose with output_shape (17, 14): an odd total padding on one axis',
    nodes: transposed('wt:4x2x3x3', undefined, ints('strides', [2, 2]), ints('output_shape', [17, 14])),
  },
  ...(['SAME_UPPER', 'SAME_LOWER', 'VALID'] as const).map((autoPad) => ({
    name: `ConvTranspose auto_pad ${autoPad} (stride 2, kernel 3: an odd total padding)`,
    nodes: transposed('wt:4x2x3x3', 'bt:2', ints('strides', [2, 2]), str('auto_pad', autoPad)),
  })),
];

describe('ONNX import: pools over 1 or 3 spatial axes', () => {
  for (const c of POOLS)
    it(c.name, async (t) => {
      const { rel } = await checkCase(c);
      t.diagnostic(`max rel diff of the logits against ONNX Runtime ${rel.toExponential(2)}`);
    });

  it('refuses, in one line naming the node, a pool over 3 axes that all pool', () => {
    const c = pooled5d(
      node('AveragePool', ['u5'], ['p5'], ints('kernel_shape', [2, 2, 2]), ints('strides', [1, 2, 2])),
    );
    c[1].name = '/pool3d/AveragePool';
    assert.throws(
      () => onnxModel(bytesOf({ name: '', nodes: c, constants: POOL5_CONSTANTS }), 'p3.onnx'),
      (e: Error) =>
        e instanceof PssError &&
        !e.message.includes('\n') &&
        /^p3\.onnx: node "\/pool3d\/AveragePool" \(AveragePool\): AveragePool over 3 spatial axes is supported when at most 2 of them pool/.test(
          e.message,
        ),
    );
  });
});

/** An AveragePool in ceil mode on the image, then the conv. */
const ceilPool = (...attrs: Attr[]): Node[] => [
  node('AveragePool', ['x'], ['p'], int('ceil_mode', 1), ...attrs),
  conv('p', 'c'),
  flatten('c'),
];
const CEIL: Case[] = [
  {
    name: 'kernel 3, stride 2 on 8 (a last window of 2)',
    nodes: ceilPool(ints('kernel_shape', [3, 3]), ints('strides', [2, 2])),
  },
  {
    name: 'count_include_pad 1 with pads: the file’s pads count, ceil mode’s extension does not',
    nodes: ceilPool(
      ints('kernel_shape', [3, 3]),
      ints('strides', [2, 2]),
      ints('pads', [1, 1, 1, 1]),
      int('count_include_pad', 1),
    ),
  },
  {
    name: 'count_include_pad 1, other kernels, strides and pads per axis',
    nodes: ceilPool(
      ints('kernel_shape', [3, 2]),
      ints('strides', [2, 3]),
      ints('pads', [0, 1, 1, 0]),
      int('count_include_pad', 1),
    ),
  },
  {
    // timm's ResNet-D shortcut: AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False) on an odd size
    name: 'kernel 2, stride 2 on 7 (ResNet-D’s downsampling shortcut)',
    nodes: [
      node('AveragePool', ['x'], ['odd'], ints('kernel_shape', [2, 2])),
      node(
        'AveragePool',
        ['odd'],
        ['p'],
        int('ceil_mode', 1),
        ints('kernel_shape', [2, 2]),
        ints('strides', [2, 2]),
      ),
      conv('p', 'c'),
      flatten('c'),
    ],
  },
];

describe('ONNX import: AveragePool in ceil mode', () => {
  for (const c of CEIL)
    it(c.name, async (t) => {
      const { rel } = await checkCase(c);
      t.diagnostic(`max rel diff of the logits against ONNX Runtime ${rel.toExponential(2)}`);
    });
});

describe('ONNX import: Conv over 1 spatial axis', () => {
  for (const c of CONV1D)
    it(c.name, async (t) => {
      const { rel } = await checkCase(c);
      t.diagnostic(`max rel diff of the logits against ONNX Runtime ${rel.toExponential(2)}`);
    });

  it('keeps a Conv1d weight [O, I, k] a parameter whose O output channels are filters', async () => {
    const model = onnxModel(bytesOf(CONV1D[1]), 'conv1d.onnx');
    assert.deepEqual(
      model.layers.map((l) => [l.param, l.filters, l.shape, l.kind, l.bias]),
      [
        ['w:4x3x3x3', 4, [4, 3, 3, 3], 'filter', 'b:4'],
        ['w1:6x2x3', 6, [6, 2, 3], 'filter', 'b1:6'],
      ],
    );
    assert.equal(model.unitCount, 10);
    // a Conv1d filter turned off through the mask = its weights and bias zeroed
    const off = [4 + 1, 4 + 4];
    const masked = await maskedLogits(model, image, off);
    const zeroed = await plainLogits(zeroUnits(model, off), image);
    assert.ok(maxRelDiff(masked, zeroed) < 1e-6, `mask against zeroed: ${maxRelDiff(masked, zeroed)}`);
    assert.ok(maxRelDiff(masked, await plainLogits(model, image)) > 1e-3);
  });

  it('gives each image of a batch of two its own filter saliency (the weight reshaped per sample)', async () => {
    for (const c of CONV1D.slice(0, 2)) {
      const model = onnxModel(bytesOf(c), 'conv1d.onnx');
      const other = Float32Array.from(image, (v, i) => v * Math.cos(i));
      const { pair, first, second } = await pairAndAlone(model, SHAPE, image, other, [1, 7]);
      for (const [both, alone] of [
        [pair[0], first],
        [pair[1], second],
      ])
        assert.ok(
          maxRelDiff(both.saliency, alone.saliency) < 1e-5,
          `${c.name}: ${maxRelDiff(both.saliency, alone.saliency)}`,
        );
      assert.ok(maxRelDiff(first.saliency, second.saliency) > 1e-3);
    }
  });
});

describe('ONNX import: DepthToSpace and SpaceToDepth', () => {
  for (const c of BLOCKS)
    it(c.name, async (t) => {
      const { rel } = await checkCase(c);
      t.diagnostic(`max rel diff of the logits against ONNX Runtime ${rel.toExponential(2)}`);
    });
});

describe('ONNX import: ConvTranspose', () => {
  for (const c of TRANSPOSED)
    it(c.name, async (t) => {
      const { rel } = await checkCase(c);
      t.diagnostic(`max rel diff of the logits against ONNX Runtime ${rel.toExponential(2)}`);
    });

  it('keeps its weight and bias parameters without units', () => {
    const model = onnxModel(bytesOf(TRANSPOSED[0]), 'convt.onnx');
    assert.deepEqual(
      model.params.map((p) => [p.name, p.role]),
      [
        ['w:4x3x3x3', 'conv'],
        ['b:4', 'bias'],
        ['wt:4x3x3x3', 'conv-transpose'],
        ['bt:3', 'bias'],
      ],
    );
    assert.deepEqual(
      model.layers.map((l) => l.param),
      ['w:4x3x3x3'],
    );
  });

  it('gives each image of a batch of two its own parameter saliency, its weight and bias included', async () => {
    const model = onnxModel(bytesOf(TRANSPOSED[1]), 'convt.onnx');
    const other = Float32Array.from(image, (v, i) => v * Math.cos(i));
    await using engine = new SaliencyEngine(model);
    const pair = await engine.compute(
      { data: Float32Array.from([...image, ...other]), shape: [2, 3, 8, 8] },
      [1, 7],
      'parameter',
    );
    const alone = [
      ...(await engine.compute({ data: image, shape: SHAPE }, [1], 'parameter')),
      ...(await engine.compute({ data: other, shape: SHAPE }, [7], 'parameter')),
    ];
    // every parameter's |g|, in declaration order: the ConvTranspose's 4·2·3·2 weights and 4 biases last
    const total = model.params.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    assert.equal(pair[0].saliency.length, total);
    const tail = (v: ArrayLike<number>) => Array.from(v).slice(total - 52);
    for (const k of [0, 1]) {
      const d = maxRelDiff(pair[k].saliency, alone[k].saliency);
      assert.ok(d < 1e-5, `image ${k}: batch of two against alone: ${d}`);
      assert.ok(tail(alone[k].saliency).every((v) => v > 0));
    }
    assert.ok(maxRelDiff(tail(alone[0].saliency), tail(alone[1].saliency)) > 1e-3);
  });
});

describe('ONNX import: the unsupported-operator listing', () => {
  it('names none of these operators any more, and still the ones pss lacks', () => {
    assert.throws(
      () => onnxModel(tinyOnnx(['DepthToSpace', 'SpaceToDepth', 'ConvTranspose', 'Foo', 'LpPool']), 'm.onnx'),
      (e: Error) =>
        e instanceof PssError && /operators pss cannot differentiate: Foo, LpPool$/.test(e.message),
    );
  });
});
