/** Human summaries for the terminal. */
import type { RankedFilter } from '../saliency/rank.js';

export function formatSummary(r: {
  model: string;
  label: number;
  predicted: number;
  loss: number;
  aggregation: string;
  standardized: boolean;
  top: readonly RankedFilter[];
  json?: string;
}): string {
  const verdict = r.predicted === r.label ? 'correct' : 'MISCLASSIFIED';
  const lines = [
    `${r.model}: predicted class ${r.predicted}, true class ${r.label} (${verdict}); loss ${r.loss.toFixed(4)}`,
  ];
  if (r.top.length) {
    const what = r.standardized ? 'z-score' : `saliency (${r.aggregation}, not standardised: no --stats)`;
    lines.push('', `Most salient filters — ${what}:`);
    const w = Math.max(5, ...r.top.map((t) => t.layer.length));
    lines.push(`  ${'#'.padStart(3)}  ${'layer'.padEnd(w)}  filter  ${r.standardized ? 'z' : 'value'}`);
    r.top.forEach((t, i) => {
      lines.push(
        `  ${String(i + 1).padStart(3)}  ${t.layer.padEnd(w)}  ${String(t.filter).padStart(6)}  ${fmt(t.value)}`,
      );
    });
  }
  if (r.json) lines.push('', `Full result: ${r.json}`);
  return lines.join('\n');
}

const fmt = (v: number) => (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toFixed(4) : v.toExponential(3));
