/**
 * What the pruning experiment found: per strategy and k, the images corrected and the mean
 * change in probability; and the report of a run (summary.json, summary.md) that a single run
 * and a merge of shards write alike.
 */
import type { Aggregation } from '../saliency/aggregation.js';
import type { RankBy } from '../saliency/rank.js';
import type { PruneRow } from './prune-csv.js';
import { STRATEGIES, type Strategy } from './prune-orders.js';

export interface StrategySummary {
  strategy: Strategy;
  /** Index k − 1: images corrected with k filters off... */
  corrected: number[];
  /** ...as a fraction of the misclassified images... */
  fraction: number[];
  /** ...and the mean change in the true class's and the original prediction's probability. */
  meanDTrue: number[];
  meanDPredicted: number[];
}

export interface PruneSummary {
  /** Misclassified images in the study. */
  images: number;
  k: number;
  strategies: StrategySummary[];
}

export function summarizePrune(rows: readonly PruneRow[], k: number): PruneSummary {
  const images = new Set(rows.map((r) => r.image)).size;
  const strategies = STRATEGIES.map((strategy) => {
    const s: StrategySummary = { strategy, corrected: [], fraction: [], meanDTrue: [], meanDPredicted: [] };
    for (let kk = 1; kk <= k; kk++) {
      const at = rows.filter((r) => r.strategy === strategy && r.k === kk);
      const mean = (f: (r: PruneRow) => number) =>
        at.length ? at.reduce((a, r) => a + f(r), 0) / at.length : 0;
      const c = at.filter((r) => r.corrected).length;
      s.corrected.push(c);
      s.fraction.push(images ? c / images : 0);
      s.meanDTrue.push(mean((r) => r.dTrue));
      s.meanDPredicted.push(mean((r) => r.dPredicted));
    }
    return s;
  });
  return { images, k, strategies };
}

/** The summary as a markdown table: % corrected (count) per k and strategy, and mean Δp(true). */
export function pruneMarkdown(s: PruneSummary): string {
  const head = `| k | ${s.strategies.map((t) => `${t.strategy}: corrected`).join(' | ')} | ${s.strategies.map((t) => `${t.strategy}: mean Δp(true)`).join(' | ')} |`;
  const rule = `|---:|${s.strategies.map(() => '---:|').join('')}${s.strategies.map(() => '---:|').join('')}`;
  const lines = [head, rule];
  for (let i = 0; i < s.k; i++) {
    const pct = s.strategies.map((t) => `${(100 * t.fraction[i]).toFixed(1)}% (${t.corrected[i]})`);
    const dp = s.strategies.map((t) => (t.meanDTrue[i] >= 0 ? '+' : '') + t.meanDTrue[i].toFixed(4));
    lines.push(`| ${i + 1} | ${pct.join(' | ')} | ${dp.join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** The files of a prune folder. summary.json is written last: a folder without it is unfinished. */
export const PRUNE_FILES = {
  csv: 'prune.csv',
  run: 'run.json',
  summary: 'summary.json',
  markdown: 'summary.md',
  chart: 'prune.png',
} as const;

/** summary.json. */
export interface PruneReport {
  model: string;
  weights: string;
  dataset: string;
  /** Images read (skipped ones not counted). */
  images: number;
  skipped: number;
  accuracy: number;
  misclassified: number;
  aggregation: Aggregation;
  standardized: boolean;
  /** z-scores or POT tail probabilities (--standardize); absent in reports before it. */
  standardization?: 'z' | 'pot' | 'none';
  pot?: { quantile: number } | null;
  /** --target ("true", "predicted", "class:c"). */
  target?: string;
  statistics: { file: string; count: number; dataset: string } | null;
  rankBy: RankBy;
  seed: number;
  /** Images taken over from an earlier run (--resume). */
  resumed: number;
  seconds: number;
  /** One shard of a split run: "i/n", and the dataset items [begin, end) it covers. */
  shard?: string;
  items?: [number, number];
  // per strategy, index k − 1: images corrected, their fraction, mean Δp(true), mean Δp(predicted)
  results: PruneSummary;
}

/** How the filters were ranked, in words. */
export function pruneHow(r: PruneReport): string {
  const by = r.rankBy === 'abs-z' ? '|z|' : 'z';
  if (r.pot && r.statistics)
    return `POT tail probabilities (q = ${r.pot.quantile}) against ${r.statistics.count} images (${r.statistics.file}), ranked by -log10 P`;
  return r.statistics
    ? `z-scores against ${r.statistics.count} images (${r.statistics.file}), ranked by ${by}`
    : `raw saliency (no statistics: give --stats), ranked by ${r.rankBy === 'abs-z' ? '|value|' : 'value'}`;
}

/** summary.md. */
export function pruneReportMarkdown(r: PruneReport): string {
  return [
    `# pss prune: ${r.model} on ${r.dataset}${r.shard ? `, shard ${r.shard}` : ''}`,
    '',
    `${r.images} images, ${r.misclassified} misclassified (accuracy ${(100 * r.accuracy).toFixed(2)}%); saliency: ${r.aggregation}, ${pruneHow(r)}; random seed ${r.seed}.`,
    '',
    pruneMarkdown(r.results),
  ].join('\n');
}
