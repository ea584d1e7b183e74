// pss as a library, in plain JavaScript (Node 20, ESM): the bundled Fashion-MNIST model on a
// shirt it takes for a T-shirt. Run with: node examples/library.mjs
import { fileURLToPath } from 'node:url';
import { explain, loadInput, loadModel, resolveStats, SaliencyEngine, saliencyReport } from 'pss';

const model = await loadModel({ model: 'fashion-cnn' }); // built in, with its weights
const stats = await resolveStats(undefined, model, 'filter'); // its bundled validation statistics
const image = await loadInput(
  fileURLToPath(new URL('fashion/shirt-as-tshirt-5806.png', import.meta.url)),
  model,
);
const batch = { data: image.data, shape: [1, ...image.shape] };
const shirt = 6; // the true label

const engine = new SaliencyEngine(model, { device: 'cpu' });
try {
  // Which filters have abnormally large gradients (z-scores against the statistics)?
  const [result] = await engine.compute(batch, [shirt], 'filter');
  const { report } = saliencyReport(model, result, { reference: stats?.reference, top: 3 });
  console.log(`predicted ${report.predictedName}, true ${report.labelName}`);
  for (const t of report.top) console.log(`  ${t.layer}:${t.filter}  z = ${t.z.toFixed(2)}`);

  // Which pixels drive them (the exact second-order input gradient), and Grad-CAM beside it.
  const ex = await explain(engine, batch, shirt, { stats: stats?.reference, k: 10 });
  console.log(`input gradient of ${ex.inputGradient.length} values, Grad-CAM ${ex.gradcam.shape.join('x')}`);
} finally {
  await engine.close();
}
