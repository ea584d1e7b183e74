/** `pss inspect`: what pss sees of a model — input, classes, units, the choices made loading it — before running it. */
import { defineCommand } from 'citty';
import { classNamesFor } from '../../image/labels.js';
import { writeJsonAtomic, writeJsonLine } from '../../io/json.js';
import { describeModel, type ModelDescription } from '../../models/describe.js';
import { loadModel } from '../../models/load.js';
import { modelArgs, modelSpec } from '../args.js';

const count = (n: number) => n.toLocaleString('en-US');
const millions = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : count(n));

function formatDescription(d: ModelDescription, names: readonly string[] | undefined): string {
  const [c, h, w] = d.inputShape;
  const shown = names?.slice(0, 4).join(', ');
  const lines = [
    `${d.model}: ${d.source}`,
    `  input        ${c}×${h}×${w}${d.dynamicSize ? ' (dynamic size: the graph is built for each input; this is the default)' : ''}`,
    `  preprocess   ${d.preprocessing}`,
    `  classes      ${count(d.classes)}${shown ? ` (${shown}${names!.length > 4 ? ', …' : ''})` : ''}`,
    `  parameters   ${millions(d.parameters.values)} in ${count(d.parameters.tensors)} tensors`,
    `  units        ${d.units}: ${d.unitCounts} in ${count(d.layers.length)} layer${d.layers.length === 1 ? '' : 's'} (${count(d.unitCount)} in the saliency vector)`,
  ];
  if (d.onnx)
    lines.push(
      `  onnx         opset ${d.onnx.opset}; input "${d.onnx.input}" (${d.onnx.layout}), scores from "${d.onnx.output}" (${d.onnx.ending})`,
    );
  if (d.batchNormFolded) lines.push('  batchnorm    folded into the convs at export');
  for (const note of d.notes) lines.push(`  note         ${note}`);
  const width = Math.max(5, ...d.layers.map((l) => l.name.length));
  lines.push('', `  ${'layer'.padEnd(width)}  kind     units  offset  weight`);
  for (const l of d.layers)
    lines.push(
      `  ${l.name.padEnd(width)}  ${l.kind.padEnd(6)} ${count(l.units).padStart(6)}  ${String(l.offset).padStart(6)}  ${l.shape.join('×')}`,
    );
  return lines.join('\n');
}

const command = defineCommand({
  meta: {
    name: 'inspect',
    description:
      'What pss sees of a model before running it: its input and preprocessing, classes, parameters, the units saliency ranks (layer by layer), and for an ONNX file the opset, the input fed, the output read and every choice made. An ONNX file pss cannot run is refused with every unsupported operator named.',
  },
  args: {
    ...modelArgs,
    json: {
      type: 'string',
      description: "Write the description as JSON to this file ('-' for stdout)",
      valueHint: 'file',
    },
  },
  async run({ args }) {
    const model = await loadModel({ ...modelSpec(args), structureOnly: true });
    const d = describeModel(model);
    if (args.json === '-') return writeJsonLine(d);
    if (args.json) await writeJsonAtomic(args.json, d);
    console.log(formatDescription(d, classNamesFor(model.numClasses, model.arch.classNames)));
    if (args.json) console.log(`\nFull description: ${args.json}`);
  },
});

export default Object.assign(command, {
  help: {
    notes: [
      'A built-in architecture needs no --weights here: without them pss describes its structure (with placeholder weights, said in a note). The layer table is the saliency vector: unit i of layer L is position offset + i, as in the --json of pss saliency.',
    ],
    examples: [
      ['pss inspect --model my-classifier.onnx', 'can pss run it? its input, output, opset, units and notes'],
      [
        'pss inspect --model vit_b_16 --units filters+neurons',
        'the layers and unit counts of another unit set',
      ],
      ['pss inspect --model resnet50 --json -', 'the description as JSON on stdout'],
    ],
  },
});
