/**
 * Parameter names of Hub checkpoints that differ from torchvision's, as data: one table per
 * architecture family. The torchvision ImageNet weights are republished on the Hugging Face
 * Hub by timm (`timm/<arch>.tv_in1k`), saved from timm's modules:
 *
 * - ResNet, DenseNet: torchvision's names (timm's modules are copies of torchvision's).
 * - VGG: timm replaces the classifier with a ConvMlp + ClassifierHead and converts the
 *   torchvision checkpoint on load (timm/models/vgg.py, `_filter_fn`):
 *   `classifier.0` → `pre_logits.fc1` (weight reshaped to [4096, 512, 7, 7]),
 *   `classifier.3` → `pre_logits.fc2` (weight [4096, 4096, 1, 1]), `classifier.6` → `head.fc`.
 *   The table maps back; a reshape to [out, in] undoes the 1×1/7×7 conv form (row-major, so
 *   the values are unchanged: torchvision flattens the [512, 7, 7] features in the same order).
 * - Inception-v3: torchvision's names, but timm builds it without the auxiliary classifier,
 *   so the checkpoint has no `AuxLogits.*`. pss declares AuxLogits (it is part of torchvision's
 *   state_dict and saliency vector), so its tensors are filled in: it does not run in
 *   inference mode and its gradients are zero either way.
 * - DenseNet checkpoints saved by torchvision before 0.4 name layers `norm.1`, `conv.2`, …;
 *   torchvision's own loader renames them to `norm1`, `conv2`, and so does this table.
 *
 * - ViT: torchvision's own checkpoints (vit_b_16-c867db91.pth, vit_b_32-d86f8d99.pth) were
 *   saved before MLPBlock became an MLP (its version 2) and name its linears `mlp.linear_1`,
 *   `mlp.linear_2`; torchvision's loader renames them to `mlp.0`, `mlp.3`
 *   (MLPBlock._load_from_state_dict), and so does this table.
 *
 * Renames apply only when the torchvision name is missing from the file, so files with
 * torchvision's names load unchanged.
 */

export interface RenameRule {
  /** Matches a name in the file (anchored). */
  from: RegExp;
  /** The torchvision name: `from`'s replacement string ($1 … for groups). */
  to: string;
  /** 'linear': a conv-shaped weight [out, in, kh, kw] becomes [out, in·kh·kw]. */
  reshape?: 'linear';
}

export interface FillRule {
  /** Parameters whose names start with this are filled in when the file has none of them. */
  prefix: string;
  /** Why that is harmless, for the warning. */
  why: string;
}

export interface NameTable {
  family: string;
  /** Architecture names (pss's zoo names) the table applies to. */
  archs: RegExp;
  renames: readonly RenameRule[];
  fill?: readonly FillRule[];
}

export const HUB_NAME_TABLES: readonly NameTable[] = [
  { family: 'resnet', archs: /^resnet\d+$/, renames: [] },
  {
    family: 'vgg',
    archs: /^vgg\d+(_bn)?$/,
    renames: [
      { from: /^pre_logits\.fc1\.(weight|bias)$/, to: 'classifier.0.$1', reshape: 'linear' },
      { from: /^pre_logits\.fc2\.(weight|bias)$/, to: 'classifier.3.$1', reshape: 'linear' },
      { from: /^head\.fc\.(weight|bias)$/, to: 'classifier.6.$1' },
    ],
  },
  {
    family: 'densenet',
    archs: /^densenet\d+$/,
    renames: [
      {
        from: /^(.*denselayer\d+\.(?:norm|relu|conv))\.([12])\.(weight|bias|running_mean|running_var)$/,
        to: '$1$2.$3',
      },
    ],
  },
  {
    family: 'inception',
    archs: /^inception_v3$/,
    renames: [],
    fill: [
      {
        prefix: 'AuxLogits.',
        why: 'timm checkpoints have no auxiliary classifier; it does not run in inference mode, so its gradients and saliency are zero either way',
      },
    ],
  },
  {
    family: 'vit',
    archs: /^vit_b_(16|32)$/,
    renames: [
      { from: /^(encoder\.layers\.encoder_layer_\d+\.mlp)\.linear_1\.(weight|bias)$/, to: '$1.0.$2' },
      { from: /^(encoder\.layers\.encoder_layer_\d+\.mlp)\.linear_2\.(weight|bias)$/, to: '$1.3.$2' },
    ],
  },
];

export function nameTable(arch: string): NameTable | undefined {
  return HUB_NAME_TABLES.find((t) => t.archs.test(arch));
}

export interface NamedTensor {
  shape: readonly number[];
  data: Float32Array;
}

/**
 * Renames the tensors of `tensors` that the architecture's table maps to torchvision names,
 * when the torchvision name is not already there. Returns a new map (same data arrays) and
 * the renames done, as [from, to] pairs.
 */
export function mapHubNames<T extends NamedTensor>(
  arch: string,
  tensors: ReadonlyMap<string, T>,
): { tensors: Map<string, NamedTensor | T>; renamed: [string, string][] } {
  const table = nameTable(arch);
  const out = new Map<string, NamedTensor | T>(tensors);
  const renamed: [string, string][] = [];
  if (!table) return { tensors: out, renamed };
  for (const [name, t] of tensors) {
    const rule = table.renames.find((r) => r.from.test(name));
    if (!rule) continue;
    const to = name.replace(rule.from, rule.to);
    if (tensors.has(to)) continue;
    const shape =
      rule.reshape === 'linear' && t.shape.length > 2
        ? [t.shape[0], t.shape.slice(1).reduce((a, b) => a * b, 1)]
        : t.shape;
    out.delete(name);
    out.set(to, { shape, data: t.data });
    renamed.push([name, to]);
  }
  return { tensors: out, renamed };
}

/**
 * Fills in the architecture's optional parameters (its table's `fill` prefixes) when the file
 * has none of them: zeros, and ones for BatchNorm running variances (so the layer would still
 * be well defined if it ran). Adds them to `tensors`; returns one warning per filled group.
 */
export function fillOptional(
  arch: string,
  params: readonly { name: string; shape: readonly number[]; role?: string }[],
  tensors: Map<string, NamedTensor>,
  source: string,
): string[] {
  const warnings: string[] = [];
  for (const rule of nameTable(arch)?.fill ?? []) {
    const group = params.filter((p) => p.name.startsWith(rule.prefix));
    if (!group.length || group.some((p) => tensors.has(p.name))) continue;
    for (const p of group) {
      const n = p.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      if (p.role === 'bn-var' || p.name.endsWith('.running_var')) data.fill(1);
      tensors.set(p.name, { shape: p.shape, data });
    }
    warnings.push(
      `${source} has no ${rule.prefix.replace(/\.$/, '')} tensors; filled ${group.length} with zeros (${rule.why})`,
    );
  }
  return warnings;
}
