/** How a parameter gradient becomes a saliency profile (DESIGN §1 step 3). Defined once here. */
export const AGGREGATIONS = {
  filter: 'mean |gradient| over each conv filter (default)',
  'filter-abs-mean': '|mean gradient| over each conv filter (the statistics the original authors published)',
  signed: 'mean gradient over each conv filter, with its sign',
  parameter: '|gradient| of every element of every parameter (conv, BatchNorm, linear, biases)',
} as const;

export type Aggregation = keyof typeof AGGREGATIONS;
export const DEFAULT_AGGREGATION: Aggregation = 'filter';

export function isAggregation(s: string): s is Aggregation {
  return Object.hasOwn(AGGREGATIONS, s);
}
