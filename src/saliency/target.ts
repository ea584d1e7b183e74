/**
 * Whose loss the saliency differentiates: the true label (the default, as in the paper — also
 * for misclassified images), the model's own prediction, or one fixed class. Recorded in every
 * output and statistics file as "true", "predicted" or "class:c", because statistics of one
 * target say nothing about saliency of another.
 */
import { PssError } from '../errors.js';

export type Target = 'true' | 'predicted' | { class: number };

export const DEFAULT_TARGET: Target = 'true';

/** How outputs and statistics files record a target. */
export const targetText = (t: Target): string => (typeof t === 'string' ? t : `class:${t.class}`);

/** The loss's class for an image of true class `label` (undefined: the prediction, found in the graph). */
export const targetClass = (t: Target, label: number): number | undefined =>
  t === 'true' ? label : t === 'predicted' ? undefined : t.class;

/**
 * --target: "true", "predicted", a class index, or a class name (`classLabel` turns a name or
 * an index into a checked class, as --label does).
 */
export function parseTarget(text: string, classLabel: (text: string) => number): Target {
  if (text === 'true' || text === 'predicted') return text;
  const m = /^class:(.+)$/.exec(text);
  try {
    return { class: classLabel(m ? m[1] : text) };
  } catch (e) {
    if (!(e instanceof PssError)) throw e;
    throw new PssError(`--target is "true", "predicted" or a class (an index or a name): ${e.message}`);
  }
}

/** A recorded target ("true", "predicted", "class:c"; absent = "true", files before it was recorded). */
export function readTarget(recorded: string | undefined): Target {
  if (recorded === undefined || recorded === 'true' || recorded === 'predicted') return recorded ?? 'true';
  const m = /^class:(\d+)$/.exec(recorded);
  if (!m) throw new PssError(`unknown saliency target "${recorded}"`);
  return { class: Number(m[1]) };
}

/** In words, for summaries. */
export function targetWords(t: Target, className?: (c: number) => string | undefined): string {
  if (t === 'true') return 'the true label';
  if (t === 'predicted') return 'the predicted class';
  const name = className?.(t.class);
  return `class ${t.class}${name ? ` (${name})` : ''}`;
}
