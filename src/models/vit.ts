/**
 * ViT-B/16 and ViT-B/32 as torchvision builds them: a patch conv (conv_proj, the one conv),
 * a class token before the patch tokens, a learned position embedding, 12 pre-norm encoder
 * layers (LayerNorm, nn.MultiheadAttention, LayerNorm, MLP of Linear, exact GELU, Linear; each
 * with a residual), a final LayerNorm and a linear head on the class token. Dropout is the
 * identity in eval. Units: conv_proj's 768 filters; the linears' neurons; each layer's
 * in_proj_weight as 36 head units (q, k, v of 12 heads) under --units all.
 */
import type { Value } from '../graph/graph.js';
import * as op from '../ops/index.js';
import { type Architecture, IMAGENET } from './architecture.js';
import { multiHeadAttention } from './attention.js';
import { layerNorm } from './blocks.js';
import type { Layer, Net } from './nn.js';
import { presetPreprocessing } from './preprocessing-config.js';

const EPS = 1e-6;
const SIZE = 224;
// ViT-B: width, layers, heads, MLP width
const DIM = 768;
const LAYERS = 12;
const HEADS = 12;
const MLP = 3072;

/** nn.MultiheadAttention(dim, heads, batch_first=True) as self-attention on [B, N, dim]. */
function selfAttention(net: Net, name: string, dim: number, heads: number): Layer {
  const w = `${name}.in_proj_weight`;
  const b = `${name}.in_proj_bias`;
  net.parameter(w, [3 * dim, dim], 'linear', false, heads);
  net.parameter(b, [3 * dim], 'bias');
  const out = net.linear(`${name}.out_proj`, dim, dim);
  return (x) => out(multiHeadAttention(net.applyLinear(w, b, x), heads));
}

/**
 * The patch tokens of x [B, 1 + g², C] as a [B, C, g, g] map, and back: the identity, which
 * puts an image-shaped activation on the way to the logits for Grad-CAM (the last block's
 * ln_1 output, where pytorch-grad-cam takes ViT's).
 */
function throughGrid(x: Value, grid: number): Value {
  const [batch, n, c] = x.shape;
  const map = op.reshape(op.transpose(op.slice(x, [1], [n], [1]), [0, 2, 1]), [batch, c, grid, grid]);
  const tokens = op.transpose(op.reshape(map, [batch, c, grid * grid]), [0, 2, 1]);
  return op.concat([op.slice(x, [0], [1], [1]), tokens], 1);
}

/**
 * EncoderBlock NAME: x + attention(ln_1(x)), then y + mlp(ln_2(y)) (MLPBlock: mlp.0, GELU,
 * mlp.3). `grid`: ln_1's output goes through throughGrid (the last block).
 */
function encoderBlock(net: Net, name: string, grid?: number): Layer {
  const ln1 = layerNorm(net, `${name}.ln_1`, DIM, EPS);
  const attention = selfAttention(net, `${name}.self_attention`, DIM, HEADS);
  const ln2 = layerNorm(net, `${name}.ln_2`, DIM, EPS);
  const fc1 = net.linear(`${name}.mlp.0`, DIM, MLP);
  const fc2 = net.linear(`${name}.mlp.3`, MLP, DIM);
  return (x) => {
    const normed = ln1(x);
    const y = op.add(attention(grid ? throughGrid(normed, grid) : normed), x);
    return op.add(fc2(op.gelu(fc1(ln2(y)))), y);
  };
}

function vit(name: string, patch: number): Architecture {
  const grid = SIZE / patch;
  const tokens = grid * grid + 1;
  return {
    name,
    description: `ViT-B/${patch} (torchvision)`,
    defaultClasses: 1000,
    inputShape: [3, SIZE, SIZE],
    classifier: 'heads.head',
    preprocessing: presetPreprocessing(name) ?? IMAGENET,
    defaultUnits: 'all',
    define(net, numClasses) {
      // state_dict order: the model's own class_token, conv_proj, the encoder's pos_embedding, its layers, ln, heads
      const classToken = net.parameter('class_token', [1, 1, DIM], 'bias');
      const proj = net.conv2d('conv_proj', { in: 3, out: DIM, kernel: patch, stride: patch, bias: true });
      const pos = net.parameter('encoder.pos_embedding', [1, tokens, DIM], 'bias');
      const blocks = Array.from({ length: LAYERS }, (_, i) =>
        encoderBlock(net, `encoder.layers.encoder_layer_${i}`, i === LAYERS - 1 ? grid : undefined),
      );
      const ln = layerNorm(net, 'encoder.ln', DIM, EPS);
      const head = net.linear('heads.head', DIM, numClasses);
      return (x: Value) => {
        const batch = x.shape[0];
        // [B, DIM, g, g] → [B, g·g, DIM] patch tokens after the (per-sample) class token
        const patches = op.transpose(op.reshape(proj(x), [batch, DIM, grid * grid]), [0, 2, 1]);
        const seq = op.add(op.concat([op.expand(classToken(), [batch, 1, DIM]), patches], 1), pos());
        const encoded = ln(blocks.reduce((v, f) => f(v), seq));
        return head(op.reshape(op.slice(encoded, [0], [1], [1]), [batch, DIM]));
      };
    },
  };
}

export const vit_b_16 = vit('vit_b_16', 16);
export const vit_b_32 = vit('vit_b_32', 32);
