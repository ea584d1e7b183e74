/** Human summaries for the terminal. */
import type { RankedFilter } from '../saliency/rank.js';
import type { SaliencyReport } from '../saliency/report.js';
import { kindName, onlyFilters, unitLabelIn } from '../saliency/units.js';

const className = (i: number, name?: string) => (name ? `${name} (${i})` : `class ${i}`);

export function formatSummary(r: SaliencyReport, ranked: readonly RankedFilter[], json?: string): string {
  const verdict = r.predicted === r.label ? 'correct' : 'MISCLASSIFIED';
  const p = r.probabilities.find((q) => q.class === r.predicted)?.probability ?? 0;
  const lines = [
    `${r.model}: predicted ${className(r.predicted, r.predictedName)} at ${(100 * p).toFixed(1)}%, true ${className(r.label, r.labelName)} — ${verdict}; loss ${r.loss.toFixed(4)}`,
  ];
  if (r.target && r.target !== 'true')
    lines.push(
      `saliency of the loss of ${r.target === 'predicted' ? 'the predicted class' : `class ${r.targetClass}`} (--target ${r.target})`,
    );
  for (const note of r.notes) lines.push(`note: ${note}`);
  if (ranked.length) {
    const pot = r.standardization === 'pot' && r.pot;
    const what = pot
      ? `POT tail probability P (smallest first; shown as -log10 P) at q = ${pot.quantile} against ${r.statistics!.count} validation images (${r.aggregation})`
      : r.standardized
        ? `z-score against ${r.statistics!.count} validation images (${r.aggregation})`
        : `raw saliency (${r.aggregation}); give --stats for z-scores`;
    // Filters alone read as before; other kinds of unit are named.
    const filtersOnly = onlyFilters(r.layers);
    lines.push(
      '',
      `Most salient ${filtersOnly ? 'filters' : `units (--units ${r.units})`}, by ${pot ? 'P' : r.rankedBy === 'abs-z' ? '|value|' : 'value'} — ${what}:`,
    );
    const w = Math.max(5, ...ranked.map((t) => t.layer.length));
    const kinds = filtersOnly ? '' : `${'kind'.padEnd(9)}  `;
    lines.push(
      `  ${'#'.padStart(3)}  ${'layer'.padEnd(w)}  ${filtersOnly ? 'filter' : '  unit'}  ${kinds}${pot ? '-log10 P' : r.standardized ? 'z' : 'saliency'}`,
    );
    ranked.forEach((t, i) => {
      const kind = filtersOnly ? '' : `${kindName(t.kind).padEnd(9)}  `;
      const unit = unitLabelIn(r.layers, t.layer, t.filter);
      lines.push(
        `  ${String(i + 1).padStart(3)}  ${t.layer.padEnd(w)}  ${unit.padStart(6)}  ${kind}${fmt(t.value)}`,
      );
    });
  }
  if (r.aggregation === 'parameter')
    lines.push(
      `${r.saliency.length.toLocaleString('en-US')} per-parameter values (|gradient| of every element${r.standardized ? ', standardised' : ''}); rankings are per unit, so none is listed${json ? '' : ': write them with --json'}`,
    );
  if (json) lines.push('', `Full result: ${json}`);
  return lines.join('\n');
}

const fmt = (v: number) => (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toFixed(4) : v.toExponential(3));
