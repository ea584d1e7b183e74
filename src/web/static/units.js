// The model's unit table as the server sends it (/api/state: `units`; /api/explain: `profile.layers`):
// each layer's name, first position in the saliency vector, unit count and kind. The page names
// positions by this table only; it never works out a model's layers itself.

/** A lookup over the server's table: position → {index, layer, filter, kind, of}. */
export function unitLookup(table) {
  const end = table.length ? table[table.length - 1].offset + table[table.length - 1].filters : 0;
  const layerAt = new Int32Array(end).fill(-1);
  for (const [i, l] of table.entries()) layerAt.fill(i, l.offset, l.offset + l.filters);
  return {
    table,
    locate(index) {
      const l = table[layerAt[index] ?? -1];
      if (!l) return null;
      return { index, layer: l.name, filter: index - l.offset, kind: l.kind ?? 'filter', of: l.filters };
    },
  };
}
