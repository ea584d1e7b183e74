/** A labelled image collection, read one item at a time in a fixed order. */
export interface Sample {
  /** Path, or "file.idx#index": how errors and reports name it. */
  id: string;
  label: number;
  /** The preprocessed image, CHW float32 in the model's input shape. */
  load(): Promise<Float32Array>;
}

export interface Dataset {
  /** Says what was read (kind, path, size); stored with the statistics. */
  description: string;
  /**
   * The collection the indices refer to, unchanged by --limit (which keeps the first n):
   * statistics record it with the items they cover, so merges can refuse to count one twice.
   * The description when absent.
   */
  identity?: string;
  length: number;
  item(index: number): Sample;
}

/** Items [begin, end) of shard i of n: contiguous ranges that cover the dataset exactly. */
export function shardRange(length: number, shard: readonly [number, number] | undefined): [number, number] {
  if (!shard) return [0, length];
  const [i, n] = shard;
  return [Math.floor((i * length) / n), Math.floor(((i + 1) * length) / n)];
}
