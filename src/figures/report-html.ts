/**
 * report.html: one self-contained page (inline CSS, no scripts, no external resources) with the
 * verdict, the top-5 probabilities, the input-space heatmap, the Grad-CAM comparison, the
 * filter-saliency figure, the per-layer summary, the top filters and the notes of a saliency report.
 *
 * Figures are referenced by RELATIVE file name by default: the PNGs are written next to the page
 * anyway, each stays usable on its own, and the page stays small and readable as text (base64
 * would add about 0.5 MB for a ResNet-50 report). Pass a figure's PNG bytes instead to embed it
 * as a data: URI — one file to attach to an issue or an e-mail. Every piece of text (class
 * names, layer names, file names, notes) is HTML-escaped; file names are also URL-encoded.
 */

import { writeFileAtomic } from '../io/files.js';
import { describeUnitCounts } from '../models/units.js';
import { type SaliencyReport, softmax } from '../saliency/report.js';
import { unitLabelIn, unitName, unitsName } from '../saliency/units.js';
import { escapeXml, formatValue } from './text.js';

/** A figure: a relative file name, or PNG bytes to embed (optionally with the file name for its caption). */
export type FigureRef = string | { png: Uint8Array; file?: string };

export interface ReportFigures {
  /** The input-space heatmap alone and over the image. */
  heatmap?: FigureRef;
  overlay?: FigureRef;
  /** image | PSS | Grad-CAM (predicted) | Grad-CAM (true). */
  comparison?: FigureRef;
  filterSaliency?: FigureRef;
  layerSummary?: FigureRef;
}

export interface ReportHtmlOptions {
  /** Page title (default "pss report: <model>"). */
  title?: string;
  /** The input image's file name, shown in the header. */
  image?: string;
  /** The input-space saliency settings (DESIGN §1 step 6), shown with the heatmap. */
  explain?: { k: number; boost: number; noiseIters?: number; noisePercent?: number; random?: boolean };
  /** Extra notes, shown after the report's own. */
  notes?: readonly string[];
  /** A timestamp for the footer (omitted by default, so the page is reproducible). */
  generatedAt?: string;
}

const esc = (s: unknown) => escapeXml(String(s));

function src(ref: FigureRef): string {
  if (typeof ref === 'string')
    return esc(
      ref
        .split('/')
        .map((part) => encodeURIComponent(part))
        .join('/'),
    );
  return `data:image/png;base64,${Buffer.from(ref.png.buffer, ref.png.byteOffset, ref.png.byteLength).toString('base64')}`;
}

const fileName = (ref: FigureRef) => (typeof ref === 'string' ? ref : ref.file);

function figure(ref: FigureRef | undefined, alt: string, caption: string, cls = ''): string {
  if (!ref) return '';
  const file = fileName(ref);
  return `<figure${cls ? ` class="${cls}"` : ''}><img src="${src(ref)}" alt="${esc(alt)}"><figcaption>${caption}${
    file ? ` <span class="file">${esc(file)}</span>` : ''
  }</figcaption></figure>`;
}

const percent = (p: number) => (p < 0.0005 && p > 0 ? '&lt; 0.1 %' : `${(p * 100).toFixed(1)} %`);

function className(id: number, name?: string): string {
  return name ? `${esc(name)} <span class="id">(${id})</span>` : `class ${id}`;
}

/** The notes a reader needs to interpret the numbers. */
export function reportNotes(report: SaliencyReport, extra: readonly string[] = []): string[] {
  const notes: string[] = [];
  if (!report.standardized)
    notes.push(
      'Not standardised: no validation statistics were given, so rankings and figures use the raw saliency (μ = 0, σ = 1), not z-scores.',
    );
  else if (report.statistics)
    notes.push(
      `Standardised with statistics over ${report.statistics.count.toLocaleString('en-US')} images of ${report.statistics.dataset} (${report.statistics.file}).`,
    );
  if (report.batchNormFolded)
    notes.push(
      'BatchNorm folded into the convolutions (ONNX export): raw saliency is scaled per filter by |γ|/√(var + ε); z-scores are unaffected when the statistics come from the same model.',
    );
  if (report.rankedBy === 'abs-z') notes.push('Filters ranked by |z| (largest magnitude), not by z.');
  notes.push(...report.notes, ...extra);
  return notes;
}

/** The page (see the file comment). */
export function reportHtml(
  report: SaliencyReport,
  figures: ReportFigures = {},
  options: ReportHtmlOptions = {},
): string {
  const probs = softmax(report.logits);
  const correct = report.predicted === report.label;
  const what = report.standardized ? 'z' : 'raw saliency';
  const title = options.title ?? `pss report: ${report.model}${options.image ? ` — ${options.image}` : ''}`;

  const verdict = `<section class="verdict ${correct ? 'ok' : 'wrong'}">
<div class="tag">${correct ? 'Correct' : 'Misclassified'}</div>
<div><div>True class: <b>${className(report.label, report.labelName)}</b>, p = ${percent(probs[report.label])}</div>
<div>Predicted: <b>${className(report.predicted, report.predictedName)}</b>, p = ${percent(probs[report.predicted])}</div>
<div class="small">Loss (cross-entropy with the true label): ${esc(report.loss.toFixed(4))}</div></div>
</section>`;

  const rows = report.probabilities.map((p, i) => {
    const tags = [
      p.class === report.predicted ? '<span class="t pred">predicted</span>' : '',
      p.class === report.label ? '<span class="t true">true</span>' : '',
    ].join('');
    return `<tr><td class="num">${i + 1}</td><td>${className(p.class, p.name)} ${tags}</td><td class="num">${percent(p.probability)}</td><td class="barcell"><div class="bar" style="width:${(100 * p.probability).toFixed(1)}%"></div></td></tr>`;
  });
  if (!report.probabilities.some((p) => p.class === report.label)) {
    const rank = Array.from(probs).filter((q) => q > probs[report.label]).length + 1;
    rows.push(
      `<tr class="extra"><td class="num">${rank}</td><td>${className(report.label, report.labelName)} <span class="t true">true</span></td><td class="num">${percent(probs[report.label])}</td><td class="barcell"><div class="bar" style="width:${(100 * probs[report.label]).toFixed(1)}%"></div></td></tr>`,
    );
  }
  const probabilities = `<table class="probs"><thead><tr><th>#</th><th>class</th><th>probability</th><th></th></tr></thead><tbody>${rows.join('')}</tbody></table>`;

  const facts: [string, string][] = [
    ['model', esc(report.model)],
    ['weights', esc(report.weights)],
    ['aggregation', esc(report.aggregation)],
    [
      'statistics',
      report.statistics
        ? `${esc(report.statistics.dataset)}, ${report.statistics.count.toLocaleString('en-US')} images <span class="file">${esc(report.statistics.file)}</span>`
        : 'none (not standardised)',
    ],
    (report.units ?? 'filters') === 'filters'
      ? ['conv layers', `${report.layers.length} (${report.saliency.length.toLocaleString('en-US')} filters)`]
      : ['layers', `${report.layers.length} (${describeUnitCounts(report.layers)}; --units ${report.units})`],
    [
      'ranked by',
      report.standardized
        ? report.rankedBy === 'abs-z'
          ? '|z|'
          : 'z'
        : report.rankedBy === 'abs-z'
          ? '|raw saliency|'
          : 'raw saliency',
    ],
  ];
  if (options.image) facts.unshift(['image', esc(options.image)]);
  const factTable = `<table class="facts">${facts.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>`;

  const ex = options.explain;
  const explainText = ex
    ? `${ex.random ? `${ex.k} random filters` : `top ${ex.k} filters`} boosted ×${esc(ex.boost)}${
        ex.noiseIters && ex.noiseIters > 1
          ? `, averaged over ${ex.noiseIters} noisy copies (p = ${esc(ex.noisePercent ?? 0)})`
          : ''
      }. `
    : '';
  const heatmaps =
    figures.heatmap || figures.overlay
      ? `<section><h2>Input-space saliency</h2><p class="lead">The pixels whose change moves the saliency profile most towards its most salient filters: ∂/∂x cos(s(x), s′), s′ = s with the salient filters boosted. ${explainText}Per pixel |max over colour channels|, clipped to the 90th–99th percentile, 3×3 Gaussian blur, JET colours (red = salient).</p><div class="row">${figure(figures.overlay, 'heatmap over the image', 'Heatmap over the image')}${figure(figures.heatmap, 'heatmap', 'Heatmap alone')}</div></section>`
      : '';
  const comparison = figures.comparison
    ? `<section><h2>PSS and Grad-CAM</h2>${figure(figures.comparison, 'image, PSS heatmap and Grad-CAM maps side by side', 'Image | PSS input-space saliency | Grad-CAM for the predicted class | Grad-CAM for the true class', 'wide')}</section>`
    : '';
  const charts =
    figures.filterSaliency || figures.layerSummary
      ? `<section><h2>Filter saliency</h2><p class="lead">One value per convolution filter (${what}); layers in model order, each layer's filters sorted from most to least salient, so each layer shows as one "tooth". Marked: the top filters of the table below.</p>${figure(
          figures.filterSaliency,
          `filter saliency (${what}) by conv layer`,
          `Filter saliency (${what}), sorted within each layer`,
          'wide',
        )}${figure(figures.layerSummary, `largest ${what} per conv layer`, `Largest ${what} per conv layer`, 'wide')}</section>`
      : '';

  const topRows = report.top.map(
    (f, i) =>
      `<tr><td class="num">${i + 1}</td><td class="mono">${esc(f.layer)}${f.kind && f.kind !== 'filter' ? ` (${f.kind})` : ''}</td><td class="num">${esc(unitLabelIn(report.layers, f.layer, f.filter))}</td><td class="num">${f.index}</td><td class="num">${f.z === null ? '—' : esc(f.z.toFixed(2))}</td><td class="num">${esc(formatValue(f.saliency))}</td></tr>`,
  );
  const top = report.top.length
    ? `<section><h2>Most salient ${unitsName(report.layers)}</h2><table class="top"><thead><tr><th>rank</th><th>layer</th><th>${unitName(report.layers)}</th><th>index</th><th>z</th><th>raw saliency</th></tr></thead><tbody>${topRows.join('')}</tbody></table></section>`
    : '';
  const notes = reportNotes(report, options.notes);
  const noteList = notes.length
    ? `<section><h2>Notes</h2><ul class="notes">${notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul></section>`
    : '';

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body{font:15px/1.45 "DejaVu Sans",system-ui,-apple-system,"Segoe UI",sans-serif;color:#1a1a1a;background:#fff;margin:0}
main{max-width:1560px;margin:0 auto;padding:20px 28px 40px}
h1{font-size:22px;margin:0 0 12px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.head{display:flex;flex-wrap:wrap;gap:20px 40px;align-items:flex-start}
.verdict{display:flex;gap:16px;align-items:center;border-radius:6px;padding:12px 16px;margin:0 0 8px}
.verdict.wrong{background:#fdecea;border:1px solid #f5c2bd}.verdict.ok{background:#eaf6ec;border:1px solid #b9dfc0}
.verdict .tag{font-weight:bold;font-size:17px;padding:4px 10px;border-radius:4px;color:#fff}
.wrong .tag{background:#c0392b}.ok .tag{background:#2e7d32}
.small{font-size:13px;color:#555}.id{color:#666}.file{font-family:"DejaVu Sans Mono",monospace;font-size:12px;color:#666}
table{border-collapse:collapse}th,td{padding:3px 10px;text-align:left;vertical-align:top}
thead th{border-bottom:1px solid #bbb;font-size:13px;color:#444}tbody tr:nth-child(even){background:#f7f7f7}
.facts th{color:#555;font-weight:normal;padding-left:0}.num{text-align:right;font-variant-numeric:tabular-nums}
.mono{font-family:"DejaVu Sans Mono",monospace;font-size:13px}
.barcell{width:220px}.bar{height:12px;background:#0173b2;border-radius:2px;margin-top:4px;min-width:1px}
.extra{border-top:1px dashed #bbb}
.t{font-size:11px;border-radius:3px;padding:1px 5px;margin-left:4px;color:#fff}.t.pred{background:#d55e00}.t.true{background:#2e7d32}
figure{margin:8px 0 16px}figure img{max-width:100%;height:auto;border:1px solid #e5e5e5}
figure.wide img{width:100%}figcaption{font-size:13px;color:#444;margin-top:4px}
.row{display:flex;flex-wrap:wrap;gap:24px}.row figure img{width:448px;image-rendering:pixelated}
.lead{color:#333;max-width:1100px}.notes li{margin:4px 0}
footer{margin-top:32px;font-size:12px;color:#777}
</style>
</head>
<body>
<main>
<h1>${esc(title)}</h1>
${verdict}
<div class="head"><div><h2>Top-5 probabilities</h2>${probabilities}</div><div><h2>Run</h2>${factTable}</div></div>
${heatmaps}
${comparison}
${charts}
${top}
${noteList}
<footer>Parameter-space saliency (Levin et al., “Where do Models go Wrong? Parameter-Space Saliency Maps for Explainability”, NeurIPS 2022), computed by pss${options.generatedAt ? ` on ${esc(options.generatedAt)}` : ''}.</footer>
</main>
</body>
</html>
`;
}

/** Writes report.html atomically. */
export async function writeReportHtml(
  path: string,
  report: SaliencyReport,
  figures: ReportFigures = {},
  options: ReportHtmlOptions = {},
): Promise<void> {
  await writeFileAtomic(path, reportHtml(report, figures, options));
}
