import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import {
  compactLayerName,
  type FilterSaliencyData,
  filterSaliencyChart,
  filterSaliencyPng,
  filterSaliencySvg,
  layerHierarchy,
  layerSummaryChart,
  layerSummaryPng,
  layerSummarySvg,
  shortLayerName,
} from '../../src/figures/filter-saliency.js';
import { svgToPng } from '../../src/figures/render.js';
import { densenet121Layers, resnet50Layers, syntheticZ } from './synthetic.js';

const ARTIFACTS = 'test-artifacts/figures';
mkdirSync(ARTIFACTS, { recursive: true });

const overlap = (a: { x0: number; x1: number; y0: number; y1: number }, b: typeof a) =>
  a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

/** SVG text content, entities decoded. */
const svgTexts = (svg: string) =>
  [...svg.matchAll(/<(?:text|tspan)[^>]*>([^<]*)<\/(?:text|tspan)>/g)].map((m) =>
    m[1]
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, '&'),
  );

describe('filter-saliency figure', () => {
  const layers = resnet50Layers();
  const values = syntheticZ(layers, 3);

  it('ResNet-50 sized input (26,560 filters, 53 layers): a 1500×400 PNG, quickly, with the top-k labels', async () => {
    assert.equal(values.length, 26_560);
    assert.equal(layers.length, 53);
    const data: FilterSaliencyData = { values, layers, standardized: true };
    const t0 = performance.now();
    const svg = await filterSaliencySvg(data);
    const t1 = performance.now();
    const png = await svgToPng(svg);
    const t2 = performance.now();
    const meta = await sharp(png).metadata();
    assert.equal(meta.width, 1500);
    assert.equal(meta.height, 400);
    console.log(`  render: vega-lite → SVG ${(t1 - t0).toFixed(0)} ms, SVG → PNG ${(t2 - t1).toFixed(0)} ms`);
    writeFileSync(`${ARTIFACTS}/filter_saliency_resnet50.png`, png);
    writeFileSync(`${ARTIFACTS}/filter_saliency_resnet50.svg`, svg);

    const chart = filterSaliencyChart(data);
    const texts = svgTexts(svg);
    assert.equal(chart.marked.length, 10);
    for (const label of chart.marked) {
      assert.match(label, /^layer\d\.\d\.(conv\d|downsample\.0)#\d+$|^conv1#\d+$/);
      assert.ok(texts.includes(label), `label ${label} missing from the SVG`);
    }
    // the top 10 by value, in rank order
    const expected = Array.from(values.keys())
      .sort((a, b) => values[b] - values[a])
      .slice(0, 10);
    const name = (i: number) => {
      const l = layers.filter((x) => x.offset <= i).pop()!;
      return `${l.name}#${i - l.offset}`;
    };
    assert.deepEqual(chart.marked, expected.map(name));
    // titles and axis texts
    assert.ok(texts.some((t) => t.startsWith('Filter saliency (z-scores)')));
    assert.ok(texts.includes('z-score'));
    for (const stage of ['layer1', 'layer2', 'layer3', 'layer4'])
      assert.ok(texts.includes(stage), `axis label ${stage}`);
    // labels: inside the plot, not overlapping each other
    const { width, height } = chart.plot;
    for (const [i, b] of chart.labelBoxes.entries()) {
      assert.ok(b.x0 >= 0 && b.x1 <= width && b.y0 >= 0 && b.y1 <= height, `label ${i} outside the plot`);
      for (const o of chart.labelBoxes.slice(i + 1)) assert.ok(!overlap(b, o), 'labels overlap');
    }
    // axis labels at least 19 px apart
    const px = chart.axisLabels.map((l) => (l.at / values.length) * width);
    for (let i = 1; i < px.length; i++) assert.ok(px[i] - px[i - 1] >= 19, 'axis labels too close');
  });

  it('thins the line without losing any layer peak or end', () => {
    const chart = filterSaliencyChart({ values, layers, standardized: true });
    assert.ok(chart.points < 8000, `${chart.points} points`);
    const layer = (chart.spec as { layer: { data?: { values?: { x: number; y: number }[] } }[] }).layer[2];
    const line = layer.data!.values!;
    assert.equal(line.length, chart.points);
    const at = new Map(line.map((p) => [p.x, p.y]));
    for (const l of layers) {
      const v = Array.from(values.subarray(l.offset, l.offset + l.filters)).sort((a, b) => b - a);
      assert.equal(at.get(l.offset), v[0], `${l.name} peak`);
      assert.equal(at.get(l.offset + l.filters - 1), v[v.length - 1], `${l.name} end`);
    }
    for (let i = 1; i < line.length; i++) assert.ok(line[i].x > line[i - 1].x);
  });

  it('marks the given top filters (e.g. a report ranked by |z|) and says when values are raw', async () => {
    const raw = values.map((v) => Math.abs(v) * 1e-4);
    const top = [
      { index: 100, layer: 'layer1.0.conv2', filter: 36 },
      { index: 26_000, layer: 'layer4.2.conv3', filter: 26_000 - layers[52].offset },
    ];
    const data: FilterSaliencyData = {
      values: raw,
      layers,
      standardized: false,
      aggregation: 'filter',
      top,
      rankedBy: 'abs-z',
    };
    const svg = await filterSaliencySvg(data);
    const texts = svgTexts(svg);
    assert.ok(texts.includes('layer1.0.conv2#36'));
    assert.ok(texts.includes(`layer4.2.conv3#${26_000 - layers[52].offset}`));
    assert.ok(texts.some((t) => t.includes('raw saliency: mean |∂L/∂w|')));
    assert.ok(texts.includes('per filter (not standardised)'));
    assert.ok(texts.some((t) => t.startsWith('Filter saliency (raw, not standardised)')));
    writeFileSync(`${ARTIFACTS}/filter_saliency_resnet50_raw.png`, await svgToPng(svg));
  });

  it('DenseNet-121 (120 layers): stage and block names without overlap', async () => {
    const dn = densenet121Layers();
    assert.equal(dn.length, 120);
    const z = syntheticZ(dn, 11);
    assert.equal(z.length, 10_240);
    const chart = filterSaliencyChart({ values: z, layers: dn, standardized: true });
    const texts = chart.axisLabels.map((l) => l.text);
    for (const s of [
      'denseblock1',
      'denseblock2',
      'denseblock3',
      'denseblock4',
      'transition2',
      'transition3',
    ])
      assert.ok(texts.includes(s), `${s} labelled`);
    const px = chart.axisLabels.map((l) => (l.at / z.length) * chart.plot.width);
    for (let i = 1; i < px.length; i++) assert.ok(px[i] - px[i - 1] >= 19);
    const png = await filterSaliencyPng({ values: z, layers: dn, standardized: true });
    assert.equal((await sharp(png).metadata()).width, 1500);
    writeFileSync(`${ARTIFACTS}/filter_saliency_densenet121.png`, png);
  });

  it('other sizes, a scale factor, and refusal of inconsistent layers', async () => {
    const small = layers.slice(0, 5);
    const n = small[4].offset + small[4].filters;
    const png = await filterSaliencyPng(
      { values: values.subarray(0, n), layers: small, standardized: true },
      { width: 800, height: 300, scale: 2 },
    );
    const meta = await sharp(png).metadata();
    assert.deepEqual([meta.width, meta.height], [1600, 600]);
    assert.throws(
      () => filterSaliencyChart({ values: values.subarray(0, 10), layers, standardized: true }),
      /need 26560/,
    );
    assert.throws(
      () => filterSaliencyChart({ values, layers: [layers[1], layers[0]], standardized: true }),
      /bad offset/,
    );
    assert.throws(
      () => filterSaliencyChart({ values, layers, standardized: true }, { width: 100, height: 50 }),
      /too small/,
    );
  });

  it("names each layer's kind when the vector has more than filters (ResNet-50 with its fc's neurons)", async () => {
    const withFc = [...layers, { name: 'fc', offset: 26_560, filters: 1000, kind: 'neuron' as const }];
    const v = Float32Array.from({ length: 27_560 }, (_, i) =>
      i < 26_560 ? values[i] : 0.5 * values[i - 26_560],
    );
    const data: FilterSaliencyData = {
      values: v,
      layers: withFc,
      standardized: false,
      aggregation: 'filter',
    };
    const svg = await filterSaliencySvg(data);
    const texts = svgTexts(svg);
    assert.ok(texts.includes('neurons'), 'the band of the neuron layer is named');
    assert.ok(texts.some((t) => t.startsWith('Unit saliency (raw, not standardised) by layer')));
    assert.ok(texts.some((t) => t.startsWith('26,560 filters, 1,000 neurons in 54 layers')));
    assert.ok(texts.includes('per unit (not standardised)'));
    assert.ok(texts.some((t) => t.includes('shaded: neuron layers (green)')));
    const bands = (spec: object) =>
      (
        spec as { layer: { mark?: { type?: string }; data?: { values?: { kind?: string }[] } }[] }
      ).layer.filter((l) => l.mark?.type === 'rect' && l.data?.values?.some((b) => b.kind));
    assert.deepEqual(
      bands(filterSaliencyChart(data).spec).flatMap((l) => l.data!.values!),
      [{ x: 26_560, x2: 27_560, kind: 'neuron' }],
    );
    // filters alone: no bands, the titles as before
    assert.equal(bands(filterSaliencyChart({ ...data, values, layers }).spec).length, 0);
    writeFileSync(`${ARTIFACTS}/filter_saliency_resnet50_neurons.png`, await svgToPng(svg));
    const summary = svgTexts(await layerSummarySvg(data));
    assert.ok(summary.some((t) => t.startsWith('One bar per layer (26,560 filters, 1,000 neurons)')));
  });

  it('NaN values are left out of the line and never marked', () => {
    const v = Float32Array.from(values);
    v[0] = Number.NaN;
    const chart = filterSaliencyChart({ values: v, layers, standardized: true });
    assert.ok(!chart.marked.includes('conv1#0'));
    const line = (chart.spec as { layer: { data?: { values?: { y: number }[] } }[] }).layer[2].data!.values!;
    assert.ok(line.every((p) => Number.isFinite(p.y)));
  });
});

describe('layer names', () => {
  it('stages and blocks of torchvision names', () => {
    assert.deepEqual(layerHierarchy('layer2.1.conv3'), { stage: 'layer2', block: 'layer2.1' });
    assert.deepEqual(layerHierarchy('conv1'), { stage: 'conv1', block: 'conv1' });
    assert.deepEqual(layerHierarchy('features.denseblock3.denselayer12.conv1'), {
      stage: 'features.denseblock3',
      block: 'features.denseblock3.denselayer12',
    });
    assert.deepEqual(layerHierarchy('features.transition1.conv'), {
      stage: 'features.transition1',
      block: 'features.transition1',
    });
    assert.deepEqual(layerHierarchy('Mixed_6a.branch3x3.conv'), {
      stage: 'Mixed_6a',
      block: 'Mixed_6a.branch3x3',
    });
    assert.deepEqual(layerHierarchy('features.0'), { stage: 'features.0', block: 'features.0' });
    assert.equal(shortLayerName('features.denseblock1.denselayer1.conv1'), 'denseblock1.denselayer1.conv1');
    assert.equal(shortLayerName('features.10'), 'features.10');
  });
  it("a transformer's encoder layers are its stages, and long names keep the part that tells them apart", () => {
    assert.deepEqual(layerHierarchy('encoder.layers.encoder_layer_3.self_attention.in_proj'), {
      stage: 'encoder.layers.encoder_layer_3',
      block: 'encoder.layers.encoder_layer_3.self_attention',
    });
    assert.deepEqual(layerHierarchy('features.1.0.attn.qkv'), { stage: 'features.1', block: 'features.1.0' });
    assert.equal(shortLayerName('encoder.layers.encoder_layer_3.mlp.0'), 'encoder_layer_3.mlp.0');
    assert.equal(
      compactLayerName('encoder.layers.encoder_layer_3.self_attention.in_proj', 10, 150),
      'encoder_layer_3…in_proj',
    );
    assert.equal(compactLayerName('layer1.0.conv2', 10, 150), 'layer1.0.conv2');
  });
});

describe('per-layer summary', () => {
  it('one bar per layer, marked layers highlighted, 1500×400 PNG', async () => {
    const layers = resnet50Layers();
    const values = syntheticZ(layers, 3);
    const data: FilterSaliencyData = { values, layers, standardized: true };
    const chart = layerSummaryChart(data);
    assert.equal(chart.points, 53);
    assert.equal(chart.axisLabels.length, 53); // 26 px per bar: every layer named
    const rows = (
      chart.spec as { layer: { data?: { values?: { name: string; max: number; filter: number }[] } }[] }
    ).layer[0].data!.values!;
    for (const [i, l] of layers.entries()) {
      const v = values.subarray(l.offset, l.offset + l.filters);
      const best = v.indexOf(Math.max(...v));
      assert.equal(rows[i].max, v[best]);
      assert.equal(rows[i].filter, best);
    }
    const t0 = performance.now();
    const png = await layerSummaryPng(data);
    console.log(`  summary render ${(performance.now() - t0).toFixed(0)} ms`);
    const meta = await sharp(png).metadata();
    assert.deepEqual([meta.width, meta.height], [1500, 400]);
    writeFileSync(`${ARTIFACTS}/layer_summary_resnet50.png`, png);

    const dn = densenet121Layers();
    const dchart = layerSummaryChart({ values: syntheticZ(dn, 11), layers: dn, standardized: true });
    assert.ok(
      dchart.axisLabels.length < 120 && dchart.axisLabels.length >= 55,
      `${dchart.axisLabels.length} labels`,
    );
    const band = dchart.plot.width / 120;
    for (let i = 1; i < dchart.axisLabels.length; i++)
      assert.ok((dchart.axisLabels[i].at - dchart.axisLabels[i - 1].at) * band >= 12);
    writeFileSync(
      `${ARTIFACTS}/layer_summary_densenet121.png`,
      await layerSummaryPng({ values: syntheticZ(dn, 11), layers: dn, standardized: true }),
    );
  });
});
