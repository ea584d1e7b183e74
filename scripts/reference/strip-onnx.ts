/**
 * Turns a torch.onnx export of ResNet-18 with the deterministic weights into a weightless
 * skeleton: every initializer keeps its name, type and shape, loses its data, and gets a
 * recipe in its doc_string that test/helpers/onnx.ts follows to rebuild it exactly —
 * "param:NAME" (the deterministic value) or "fold-weight|fold-bias:CONV:BN" (BatchNorm
 * folded into the conv, as torch.onnx does). Each recipe is checked against the data.
 *
 *   npx tsx scripts/reference/strip-onnx.ts /tmp/pss-onnx/resnet18-folded.onnx test/fixtures/onnx/resnet18-folded.skeleton.onnx
 */
import { readFileSync, writeFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { layerName } from '../../src/models/onnx-import.js';
import { rebuildInitializer } from '../../test/helpers/onnx.js';

const [src, dst] = process.argv.slice(2);
const model = onnxProto.onnx.ModelProto.decode(readFileSync(src));
const graph = model.graph!;
const consumer = new Map<string, onnxProto.onnx.INodeProto>();
for (const n of graph.node!) for (const i of n.input ?? []) if (!consumer.has(i)) consumer.set(i, n);

for (const t of graph.initializer!) {
  const node = consumer.get(t.name!);
  let recipe = `param:${t.name}`;
  if (t.name!.startsWith('onnx::') && node?.opType === 'Conv') {
    const convName = layerName(node, 0); // "/layer1/layer1.0/conv1/Conv" -> "layer1.0.conv1"
    const bnName = convName.endsWith('downsample.0') ? convName.replace(/0$/, '1') : convName.replace(/conv(\d)$/, 'bn$1');
    const kind = node.input![1] === t.name ? 'fold-weight' : 'fold-bias';
    recipe = `${kind}:${convName}:${bnName}`;
  }
  const data = new DataView(t.rawData!.buffer, t.rawData!.byteOffset, t.rawData!.byteLength);
  const rebuilt = rebuildInitializer(recipe, t.dims!.map(Number));
  let worst = 0;
  rebuilt.forEach((v, i) => {
    worst = Math.max(worst, Math.abs(v - data.getFloat32(4 * i, true)));
  });
  if (worst > 1e-5) throw new Error(`${t.name}: recipe ${recipe} is off by ${worst}`);
  t.docString = recipe;
  t.rawData = new Uint8Array(0);
}
writeFileSync(dst, onnxProto.onnx.ModelProto.encode(model).finish());
console.log(`wrote ${dst}`);
