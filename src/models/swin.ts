/**
 * Swin-T as torchvision 0.14 builds it (swin_t): a 4×4 patch conv, permuted to channels-last
 * and layer-normed; four stages of SwinTransformerBlocks (LayerNorm, shifted-window attention
 * with a relative position bias, LayerNorm, MLP; each with a residual; stochastic depth is the
 * identity in eval) with PatchMerging between them; a final LayerNorm, global average pool and
 * linear head. Units: the patch conv's 96 filters; the linears' neurons; each qkv as 3 × heads
 * head units under --units all. The relative_position_index buffer (int64) is no weight: its
 * values are computed here, as torchvision computes them.
 */
import type { Value } from '../graph/graph.js';
import * as op from '../ops/index.js';
import { type Architecture, IMAGENET } from './architecture.js';
import { multiHeadAttention } from './attention.js';
import { layerNorm } from './blocks.js';
import type { Layer, Net } from './nn.js';
import { presetPreprocessing } from './preprocessing-config.js';

const EPS = 1e-5;
const WINDOW = 7;
const EMBED = 96;
const DEPTHS = [2, 2, 6, 2];
const HEADS = [3, 6, 12, 24];

/** relative_position_index: for tokens i, j of a window, the table row of their offset (dh, dw). */
function relativePositionIndex(ws: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < ws * ws; i++)
    for (let j = 0; j < ws * ws; j++) {
      const dh = Math.floor(i / ws) - Math.floor(j / ws) + ws - 1;
      const dw = (i % ws) - (j % ws) + ws - 1;
      out.push(dh * (2 * ws - 1) + dw);
    }
  return out;
}

/**
 * The shifted windows' attention mask [windows, 1, N, N]: −100 between tokens of different
 * regions of the cyclically shifted map, else 0 (torchvision's attn_mask).
 */
function shiftMask(h: number, w: number, ws: number, shift: number): Float32Array {
  const region = (p: number, size: number) => (p < size - ws ? 0 : p < size - shift ? 1 : 2);
  const cols = w / ws;
  const windows = (h / ws) * cols;
  const n = ws * ws;
  const ids = new Int32Array(windows * n);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      ids[(Math.floor(y / ws) * cols + Math.floor(x / ws)) * n + (y % ws) * ws + (x % ws)] =
        region(y, h) * 3 + region(x, w);
  const mask = new Float32Array(windows * n * n);
  for (let k = 0; k < windows; k++)
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) if (ids[k * n + i] !== ids[k * n + j]) mask[(k * n + i) * n + j] = -100;
  return mask;
}

/** torch.roll(x, shift, axis) for a static shape: the last `shift` entries first. */
function roll(x: Value, shift: number, axis: number): Value {
  const size = x.shape[axis];
  const s = ((shift % size) + size) % size;
  if (s === 0) return x;
  return op.concat([op.slice(x, [size - s], [size], [axis]), op.slice(x, [0], [size - s], [axis])], axis);
}

/** ShiftedWindowAttention NAME on [B, H, W, C]. */
function windowAttention(net: Net, name: string, dim: number, heads: number, shift: number): Layer {
  const table = net.parameter(`${name}.relative_position_bias_table`, [(2 * WINDOW - 1) ** 2, heads], 'bias');
  const qkv = net.linear(`${name}.qkv`, dim, 3 * dim, true, heads);
  const proj = net.linear(`${name}.proj`, dim, dim);
  const n = WINDOW * WINDOW;
  const index = { data: relativePositionIndex(WINDOW), shape: [n * n] };
  return (x) => {
    const [b, h, w, c] = x.shape;
    if (h % WINDOW || w % WINDOW) throw new Error(`swin_t: a ${h}×${w} feature map is not whole windows`);
    // torchvision: no shift where one window covers the map
    const s = WINDOW >= h && WINDOW >= w ? 0 : shift;
    const [rows, cols] = [h / WINDOW, w / WINDOW];
    const shifted = roll(roll(x, -s, 1), -s, 2);
    // [B, H, W, C] → [B, windows, N, C]: the samples stay on the first axis (per-sample gradients)
    const windows = op.reshape(
      op.transpose(op.reshape(shifted, [b, rows, WINDOW, cols, WINDOW, c]), [0, 1, 3, 2, 4, 5]),
      [b, rows * cols, n, c],
    );
    // table[index] as [heads, N, N], plus the shifted windows' mask as [windows, 1, N, N]
    const rel = op.transpose(op.reshape(op.gather(table(), index, 0), [n, n, heads]), [2, 0, 1]);
    const bias = s ? op.add(rel, x.graph.constant(shiftMask(h, w, WINDOW, s), [rows * cols, 1, n, n])) : rel;
    const y = proj(multiHeadAttention(qkv(windows), heads, bias));
    const merged = op.reshape(
      op.transpose(op.reshape(y, [b, rows, cols, WINDOW, WINDOW, c]), [0, 1, 3, 2, 4, 5]),
      [b, h, w, c],
    );
    return roll(roll(merged, s, 1), s, 2);
  };
}

/** SwinTransformerBlock NAME: x + attn(norm1(x)), then y + mlp(norm2(y)) (mlp.0, GELU, mlp.3). */
function block(net: Net, name: string, dim: number, heads: number, shift: number): Layer {
  const norm1 = layerNorm(net, `${name}.norm1`, dim, EPS);
  const attn = windowAttention(net, `${name}.attn`, dim, heads, shift);
  const norm2 = layerNorm(net, `${name}.norm2`, dim, EPS);
  const fc1 = net.linear(`${name}.mlp.0`, dim, 4 * dim);
  const fc2 = net.linear(`${name}.mlp.3`, 4 * dim, dim);
  return (x) => {
    const y = op.add(attn(norm1(x)), x);
    return op.add(fc2(op.gelu(fc1(norm2(y)))), y);
  };
}

/** PatchMerging NAME: each 2×2 neighbourhood's channels side by side (x0, x1, x2, x3), norm, reduction. */
function patchMerging(net: Net, name: string, dim: number): Layer {
  const reduction = net.linear(`${name}.reduction`, 4 * dim, 2 * dim, false);
  const norm = layerNorm(net, `${name}.norm`, 4 * dim, EPS);
  return (x) => {
    const [b, h, w, c] = x.shape;
    // [B, H/2, dh, W/2, dw, C] → [B, H/2, W/2, dw, dh, C]: x0 (0, 0), x1 (dh 1), x2 (dw 1), x3 (1, 1)
    const parts = op.transpose(op.reshape(x, [b, h / 2, 2, w / 2, 2, c]), [0, 1, 3, 4, 2, 5]);
    return reduction(norm(op.reshape(parts, [b, h / 2, w / 2, 4 * c])));
  };
}

export const swin_t: Architecture = {
  name: 'swin_t',
  description: 'Swin-T (torchvision)',
  defaultClasses: 1000,
  inputShape: [3, 224, 224],
  classifier: 'head',
  preprocessing: presetPreprocessing('swin_t') ?? IMAGENET,
  defaultUnits: 'all',
  define(net, numClasses) {
    const stem = net.conv2d('features.0.0', { in: 3, out: EMBED, kernel: 4, stride: 4, bias: true });
    const stemNorm = layerNorm(net, 'features.0.2', EMBED, EPS);
    const features: Layer[] = [(x) => stemNorm(op.transpose(stem(x), [0, 2, 3, 1]))];
    DEPTHS.forEach((depth, s) => {
      const dim = EMBED * 2 ** s;
      const stage = `features.${features.length}`;
      const blocks = Array.from({ length: depth }, (_, i) =>
        block(net, `${stage}.${i}`, dim, HEADS[s], i % 2 ? WINDOW >> 1 : 0),
      );
      features.push((x) => blocks.reduce((v, f) => f(v), x));
      if (s + 1 < DEPTHS.length) features.push(patchMerging(net, `features.${features.length}`, dim));
    });
    const last = EMBED * 2 ** (DEPTHS.length - 1);
    const norm = layerNorm(net, 'norm', last, EPS);
    const head = net.linear('head', last, numClasses);
    // norm, permute to NCHW, global pool, flatten, head: Grad-CAM takes the pool's input
    return (x) =>
      head(
        op.flatten(
          op.globalAveragePool(op.transpose(norm(features.reduce((v, f) => f(v), x)), [0, 3, 1, 2])),
          1,
        ),
      );
  },
};
