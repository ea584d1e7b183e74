/**
 * Older opsets read as the newest: before replay, every node is rewritten to the form its
 * operator has in opset 21, from one table of the per-opset differences (OPSET_CHANGES), the
 * way onnx.version_converter upgrades a model adapter by adapter. The rules of operators.ts
 * and static.ts then know one form of each operator. pss reads opsets 7 to 21.
 */
import { PssError } from '../../errors.js';
import { attr, branches, type Const, float, isDefaultDomain, type NodeProto, string } from './decode.js';
import { konst } from './tensor.js';

export const OPSETS = { min: 7, max: 21 } as const;

/** What an upgrade sees besides its node: a way to add a constant input, and to refuse. */
export interface UpgradeContext {
  /** A new constant tensor's name, to use as an input. */
  constant(c: Const): string;
  fail(message: string): never;
}

export interface OpsetChange {
  op: string;
  /** The first opset with the new form: files of older opsets get `upgrade`. */
  since: number;
  /** What changed, in words (the table doubles as documentation). */
  change: string;
  upgrade(n: NodeProto, c: UpgradeContext): NodeProto[];
}

type Attribute = NonNullable<NodeProto['attribute']>[number];

/** The node without the named attributes. */
const without = (n: NodeProto, ...names: string[]): NodeProto => ({
  ...n,
  attribute: (n.attribute ?? []).filter((a) => !names.includes(a.name ?? '')),
});
const withAttrs = (n: NodeProto, ...attrs: Attribute[]): NodeProto => ({
  ...n,
  attribute: [...(n.attribute ?? []).filter((a) => !attrs.some((b) => b.name === a.name)), ...attrs],
});
const stringAttr = (name: string, value: string): Attribute => ({
  name,
  type: 3,
  s: new TextEncoder().encode(value),
});
const intsOf = (n: NodeProto, name: string) => attr(n, name)?.ints?.map(Number);
const floatsOf = (n: NodeProto, name: string) => attr(n, name)?.floats?.map(Number);

/** The inputs with `extra` placed from index `at` (earlier missing slots left empty). */
const inputsWith = (n: NodeProto, at: number, extra: string[]) => {
  const ins = [...(n.input ?? [])];
  while (ins.length < at) ins.push('');
  ins.splice(at, extra.length, ...extra);
  while (ins.length && !ins[ins.length - 1]) ins.pop();
  return ins;
};

/** An attribute list of ints moved to input `at` (absent attribute: absent input). */
const intsToInput =
  (name: string, at: number) =>
  (n: NodeProto, c: UpgradeContext): NodeProto[] => {
    const v = intsOf(n, name);
    const moved = without(n, name);
    return [v ? { ...moved, input: inputsWith(n, at, [c.constant(konst(v, [v.length]))]) } : moved];
  };

/** Softmax, LogSoftmax and Hardmax before 13 flatten to 2-D at `axis` (default 1), normalise each row, and reshape back. */
const coerceTo2D = (n: NodeProto): NodeProto[] => {
  const axis = Number(attr(n, 'axis')?.i ?? 1);
  const x = n.input![0];
  const y = n.output![0];
  const tag = `${y}/pss:2d`;
  return [
    {
      opType: 'Flatten',
      name: `${n.name}/Flatten`,
      input: [x],
      output: [`${tag}/2d`],
      attribute: [{ name: 'axis', type: 2, i: axis }],
    },
    { ...withAttrs(n, { name: 'axis', type: 2, i: -1 }), input: [`${tag}/2d`], output: [`${tag}/rows`] },
    { opType: 'Shape', name: `${n.name}/Shape`, input: [x], output: [`${tag}/shape`] },
    { opType: 'Reshape', name: `${n.name}/Reshape`, input: [`${tag}/rows`, `${tag}/shape`], output: [y] },
  ];
};

/** Resize 10 samples as Resize 11 does with asymmetric coordinates (and floor for nearest). */
const asResize11 = (n: NodeProto): NodeProto[] => [
  {
    ...withAttrs(
      n,
      stringAttr('coordinate_transformation_mode', 'asymmetric'),
      stringAttr('nearest_mode', 'floor'),
    ),
    input: [n.input![0], '', n.input![1]],
  },
];

/** Upsample (7-9) as Resize 10: scales an input; "bilinear" (opset 7) is "linear". */
const asResize10 = (n: NodeProto, c: UpgradeContext): NodeProto[] => {
  const mode = string(n, 'mode', 'nearest') === 'bilinear' ? 'linear' : string(n, 'mode', 'nearest');
  const scales = floatsOf(n, 'scales');
  const scalesInput = scales ? c.constant(konst(scales, [scales.length], 'float')) : n.input![1];
  return [
    {
      ...withAttrs(without(n, 'scales', 'width_scale', 'height_scale'), stringAttr('mode', mode)),
      opType: 'Resize',
      input: [n.input![0], scalesInput],
    },
  ];
};

const reduceAxes = (op: string, since: number): OpsetChange => ({
  op,
  since,
  change: 'axes: an attribute before, the second input since',
  upgrade: intsToInput('axes', 1),
});

/** Only the first output (the inference result) of ops whose others serve training. */
const firstOutputOnly = (n: NodeProto) => ({ ...n, output: (n.output ?? []).slice(0, 1) });

/**
 * The differences between opsets 7 and 21 in the operators pss reads, oldest first per op.
 * Ops not listed read the same in every opset pss takes.
 */
export const OPSET_CHANGES: readonly OpsetChange[] = [
  {
    op: 'BatchNormalization',
    since: 9,
    change: 'spatial (7-8) dropped: 1 is the only mode since; is_test and consumed_inputs are older still',
    upgrade: (n, c) => {
      if (Number(attr(n, 'spatial')?.i ?? 1) !== 1)
        c.fail('BatchNormalization with spatial = 0 (statistics per position) is not supported');
      return [firstOutputOnly(without(n, 'spatial', 'is_test', 'consumed_inputs'))];
    },
  },
  {
    op: 'BatchNormalization',
    since: 14,
    change: 'training_mode added; before, the optional outputs were training statistics',
    upgrade: (n) => [firstOutputOnly(n)],
  },
  {
    op: 'Dropout',
    since: 12,
    change: 'ratio: an attribute before (and is_test before 7), an input since; inference ignores it',
    upgrade: (n) => [firstOutputOnly(without(n, 'ratio', 'is_test'))],
  },
  {
    op: 'Clip',
    since: 11,
    change: 'min and max: attributes before, inputs since',
    upgrade: (n, c) => {
      const bound = (name: string) => {
        const a = attr(n, name);
        return a ? c.constant(konst([float(n, name, 0)], [], 'float')) : '';
      };
      return [{ ...without(n, 'min', 'max'), input: inputsWith(n, 1, [bound('min'), bound('max')]) }];
    },
  },
  {
    op: 'Pad',
    since: 11,
    change: 'pads and value: attributes before, inputs since',
    upgrade: (n, c) => {
      const pads = intsOf(n, 'paddings') ?? intsOf(n, 'pads') ?? c.fail('Pad has no pads');
      const value = c.constant(konst([float(n, 'value', 0)], [], 'float'));
      return [
        {
          ...without(n, 'pads', 'paddings', 'value'),
          input: [n.input![0], c.constant(konst(pads, [pads.length])), value],
        },
      ];
    },
  },
  {
    op: 'Slice',
    since: 10,
    change: 'starts, ends and axes: attributes before, inputs since (with steps)',
    upgrade: (n, c) => {
      const list = (name: string) => {
        const v = intsOf(n, name);
        return v ? c.constant(konst(v, [v.length])) : '';
      };
      const ins = [n.input![0], list('starts'), list('ends'), list('axes')];
      return [{ ...without(n, 'starts', 'ends', 'axes'), input: inputsWith({ input: ins }, 4, []) }];
    },
  },
  {
    op: 'Split',
    since: 13,
    change: 'split (the sizes): an attribute before, the second input since',
    upgrade: intsToInput('split', 1),
  },
  {
    op: 'Squeeze',
    since: 13,
    change: 'axes: an attribute before, the second input since',
    upgrade: intsToInput('axes', 1),
  },
  {
    op: 'Unsqueeze',
    since: 13,
    change: 'axes: an attribute before, the second input since',
    upgrade: intsToInput('axes', 1),
  },
  reduceAxes('ReduceSum', 13),
  ...[
    'ReduceMean',
    'ReduceMax',
    'ReduceMin',
    'ReduceProd',
    'ReduceL1',
    'ReduceL2',
    'ReduceSumSquare',
    'ReduceLogSumExp',
  ].map((op) => reduceAxes(op, 18)),
  ...['Softmax', 'LogSoftmax'].map(
    (op): OpsetChange => ({
      op,
      since: 13,
      change:
        'before: the input coerced to 2-D at axis (default 1) and normalised per row; since: along one axis (default -1)',
      upgrade: coerceTo2D,
    }),
  ),
  {
    op: 'Upsample',
    since: 10,
    change: 'deprecated for Resize (read as Resize 10, then 11); scales an attribute before 9, an input in 9',
    upgrade: asResize10,
  },
  {
    op: 'Resize',
    since: 11,
    change:
      'roi input added before scales; coordinate_transformation_mode (asymmetric in 10) and nearest_mode (floor) added',
    upgrade: asResize11,
  },
  {
    op: 'Scatter',
    since: 11,
    change: 'renamed ScatterElements',
    upgrade: (n) => [{ ...n, opType: 'ScatterElements' }],
  },
];

/** The opset of a model's default domain, refused outside 7-21 in one line. */
export function checkOpset(opset: number, source: string): number {
  if (!(opset >= OPSETS.min && opset <= OPSETS.max))
    throw new PssError(
      `${source} uses opset ${opset || 'none'}; pss reads opsets ${OPSETS.min} to ${OPSETS.max} (re-export it, or convert it with onnx.version_converter)`,
    );
  return opset;
}

/**
 * Every node in its opset-21 form, with the constants the upgrades added (attributes that
 * became inputs). Also aliases away Identity nodes on initializers (torch.onnx writes them for
 * tensors with equal values), so that every parameter is read where it is used.
 */
export function upgradeNodes(
  nodes: readonly NodeProto[],
  opset: number,
  initializers: ReadonlyMap<string, Const>,
  source: string,
): { nodes: NodeProto[]; constants: Map<string, Const>; aliases: Map<string, string> } {
  const constants = new Map<string, Const>();
  let count = 0;
  const changes = OPSET_CHANGES.filter((ch) => opset < ch.since);
  const aliases = new Map<string, string>();
  const resolve = (name: string) => aliases.get(name) ?? name;
  // An If's branches read the outer scope's tensors: upgraded with the same table and aliases.
  const withUpgradedBranches = (node: NodeProto): NodeProto =>
    branches(node).length
      ? {
          ...node,
          attribute: node.attribute?.map((a) =>
            a.g
              ? {
                  ...a,
                  g: {
                    ...a.g,
                    node: upgradeList(a.g.node ?? []),
                    output: a.g.output?.map((o) => ({ ...o, name: resolve(o.name ?? '') })),
                  },
                }
              : a,
          ),
        }
      : node;
  const upgradeList = (nodes: readonly NodeProto[]): NodeProto[] => {
    const out: NodeProto[] = [];
    for (const node of nodes) {
      let todo: NodeProto[] = [withUpgradedBranches({ ...node, input: (node.input ?? []).map(resolve) })];
      for (const ch of changes) {
        todo = todo.flatMap((n) =>
          n.opType === ch.op && isDefaultDomain(n.domain)
            ? ch.upgrade(n, {
                constant: (c) => {
                  const name = `pss:opset${opset}:${count++}`;
                  constants.set(name, c);
                  return name;
                },
                fail: (m) => {
                  throw new PssError(`${source}: ${m}`);
                },
              })
            : [n],
        );
      }
      for (const n of todo) {
        const x = n.input?.[0];
        if (n.opType === 'Identity' && x && (initializers.has(x) || constants.has(x)) && n.output?.[0]) {
          aliases.set(n.output[0], x);
          continue;
        }
        out.push(n);
      }
    }
    return out;
  };
  return { nodes: upgradeList(nodes), constants, aliases };
}
