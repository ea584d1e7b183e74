import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { reportHtml, reportNotes, writeReportHtml } from '../../src/figures/report-html.js';
import type { SaliencyReport } from '../../src/saliency/report.js';
import { resnet50Layers, syntheticZ } from './synthetic.js';

const ARTIFACTS = 'test-artifacts/figures';
mkdirSync(ARTIFACTS, { recursive: true });

function report(overrides: Partial<SaliencyReport> = {}): SaliencyReport {
  const layers = resnet50Layers();
  const z = Array.from(syntheticZ(layers, 3));
  const order = Array.from(z.keys()).sort((a, b) => z[b] - z[a]);
  const logits = Array.from({ length: 1000 }, (_, i) =>
    i === 148 ? 6 : i === 3 ? 5 : i === 2 ? 2.5 : Math.sin(i) * 2,
  );
  const locate = (i: number) => {
    const l = layers.filter((x) => x.offset <= i).pop()!;
    return { layer: l.name, filter: i - l.offset };
  };
  return {
    model: 'resnet50',
    weights: 'resnet50 <tv_in1k>.safetensors',
    aggregation: 'filter',
    standardized: true,
    statistics: { file: 'stats/imagenet val & more.pss', count: 50_000, dataset: 'ImageNet <val>' },
    batchNormFolded: false,
    notes: ['weights: 2 tensors filled in <zeros>'],
    label: 2,
    labelName: 'great white shark',
    predicted: 148,
    predictedName: 'killer whale',
    loss: 3.912,
    probabilities: [148, 3, 10, 11, 12].map((c) => ({
      class: c,
      name: c === 3 ? 'tiger <shark> & "friends"' : `class ${c}`,
      probability: 0,
    })),
    logits,
    layers,
    saliency: z.map((v) => Math.abs(v) * 1e-4),
    z,
    rankedBy: 'z',
    top: order
      .slice(0, 10)
      .map((index) => ({ ...locate(index), index, saliency: Math.abs(z[index]) * 1e-4, z: z[index] })),
    ...overrides,
  };
}

describe('report.html', () => {
  it('shows the verdict, escaped labels, the figures by relative name and the top-filter table', async () => {
    const r = report({
      layers: [...resnet50Layers().slice(0, 52), { name: 'layer4.2.<conv3>', offset: 24_512, filters: 2048 }],
    });
    r.top[0] = { ...r.top[0], layer: 'layer4.2.<conv3>' };
    const html = reportHtml(
      r,
      {
        overlay: 'heatmap overlay.png',
        heatmap: 'heat#1.png',
        comparison: 'comparison.png',
        filterSaliency: 'filter_saliency_resnet50.png',
        layerSummary: 'sub dir/layer_summary_resnet50.png',
      },
      { image: 'shark <1>.jpg', explain: { k: 10, boost: 100 } },
    );
    assert.match(html, /^<!DOCTYPE html>/);
    assert.match(html, /Misclassified/);
    assert.match(html, /great white shark <span class="id">\(2\)<\/span>/);
    assert.match(html, /killer whale <span class="id">\(148\)<\/span>/);
    // escaping: no raw markup from data anywhere
    assert.ok(html.includes('tiger &lt;shark&gt; &amp; &quot;friends&quot;'));
    assert.ok(html.includes('layer4.2.&lt;conv3&gt;'));
    assert.ok(html.includes('shark &lt;1&gt;.jpg'));
    assert.ok(html.includes('resnet50 &lt;tv_in1k&gt;.safetensors'));
    assert.ok(html.includes('ImageNet &lt;val&gt;'));
    assert.ok(html.includes('weights: 2 tensors filled in &lt;zeros&gt;'));
    for (const bad of ['<shark>', '<conv3>', '<zeros>', '<1>', '<val>', '<tv_in1k>'])
      assert.ok(!html.includes(bad), bad);
    // figures: relative, URL-encoded file names
    assert.ok(html.includes('src="heatmap%20overlay.png"'));
    assert.ok(html.includes('src="heat%231.png"'));
    assert.ok(html.includes('src="sub%20dir/layer_summary_resnet50.png"'));
    assert.ok(html.includes('src="filter_saliency_resnet50.png"'));
    assert.ok(html.includes('src="comparison.png"'));
    // the true class is not in the top 5 of the probabilities given: an extra row with its rank
    assert.match(html, /<tr class="extra"><td class="num">3<\/td>/);
    // top filters: 10 rows with z and raw saliency
    const table = html.slice(html.indexOf('<table class="top">'));
    assert.equal((table.slice(0, table.indexOf('</table>')).match(/<tr>/g) ?? []).length, 11);
    assert.ok(html.includes(`${r.top[1].layer}</td><td class="num">${r.top[1].filter}</td>`));
    assert.ok(html.includes(r.top[1].z!.toFixed(2)));
    assert.match(html, /top 10 filters boosted ×100/);
    assert.ok(!/<script/i.test(html));
    // the page for the artifacts of the other figure tests, to look at
    await writeReportHtml(
      `${ARTIFACTS}/report.html`,
      report(),
      {
        overlay: 'pss_overlay_synthetic.png',
        heatmap: 'pss_heat_synthetic.png',
        comparison: 'comparison.png',
        filterSaliency: 'filter_saliency_resnet50.png',
        layerSummary: 'layer_summary_resnet50.png',
      },
      { image: 'great_white_shark_mispred_as_killer_whale.jpeg', explain: { k: 10, boost: 100 } },
    );
    assert.ok(readFileSync(`${ARTIFACTS}/report.html`, 'utf8').includes('layer_summary_resnet50.png'));
  });

  it('embeds figures as data URIs when given PNG bytes', () => {
    const png = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 1, 2, 3);
    const html = reportHtml(report(), { filterSaliency: { png, file: 'f.png' }, overlay: { png } });
    assert.ok(html.includes(`src="data:image/png;base64,${Buffer.from(png).toString('base64')}"`));
    assert.equal(html.match(/data:image\/png;base64/g)?.length, 2);
    assert.ok(html.includes('<span class="file">f.png</span>'));
    if (existsSync(`${ARTIFACTS}/comparison.png`)) {
      const real = reportHtml(report(), {
        comparison: { png: new Uint8Array(readFileSync(`${ARTIFACTS}/comparison.png`)) },
      });
      assert.ok(real.length > 10_000);
    }
  });

  it('says when results are not standardised, BatchNorm is folded, or ranking is by |z|', () => {
    const raw = report({
      standardized: false,
      statistics: null,
      z: null,
      batchNormFolded: true,
      rankedBy: 'abs-z',
      predicted: 2,
      predictedName: 'great white shark',
    });
    raw.top = raw.top.map((t) => ({ ...t, z: null }));
    const notes = reportNotes(raw);
    assert.match(notes[0], /^Not standardised: no validation statistics/);
    assert.ok(notes.some((n) => n.startsWith('BatchNorm folded')));
    assert.ok(notes.some((n) => n.includes('|z|')));
    const html = reportHtml(raw, { filterSaliency: 'f.png' });
    assert.match(html, /class="verdict ok"/);
    assert.match(html, /none \(not standardised\)/);
    assert.match(html, /Not standardised: no validation statistics/);
    assert.match(html, /Filter saliency \(raw saliency\)/);
    assert.match(html, /<td class="num">—<\/td>/); // z column empty
    // no figures given: no empty figure sections
    assert.ok(!reportHtml(raw).includes('<figure'));
  });
});
