/**
 * torchvision's published ImageNet weights of the modern CNNs and the transformers (torchvision 0.14's weight
 * enums, DEFAULT entries): `--weights <url>` loads them as they are (torchvision's names and
 * order), and the download checks the SHA-256 prefix in the file name (torch.hub's
 * convention). `preset` names their eval transform in PRESETS (preprocessing-config.ts).
 */
export interface TorchvisionWeights {
  /** torchvision's weight enum entry, e.g. "MobileNet_V3_Small_Weights.IMAGENET1K_V1". */
  weights: string;
  url: string;
  /** The first hex digits of the file's SHA-256, as its name carries them. */
  sha256Prefix: string;
  /** ImageNet-1K top-1 accuracy torchvision reports for them. */
  top1: number;
}

const tv = (weights: string, file: string, top1: number): TorchvisionWeights => ({
  weights,
  url: `https://download.pytorch.org/models/${file}`,
  sha256Prefix: file.match(/-([0-9a-f]{8,})\.pth$/)![1],
  top1,
});

export const TORCHVISION_WEIGHTS: Readonly<Record<string, TorchvisionWeights>> = {
  mobilenet_v3_small: tv(
    'MobileNet_V3_Small_Weights.IMAGENET1K_V1',
    'mobilenet_v3_small-047dcff4.pth',
    67.668,
  ),
  mobilenet_v3_large: tv(
    'MobileNet_V3_Large_Weights.IMAGENET1K_V2',
    'mobilenet_v3_large-5c1a4163.pth',
    75.274,
  ),
  efficientnet_b0: tv(
    'EfficientNet_B0_Weights.IMAGENET1K_V1',
    'efficientnet_b0_rwightman-3dd342df.pth',
    77.692,
  ),
  regnet_y_400mf: tv('RegNet_Y_400MF_Weights.IMAGENET1K_V2', 'regnet_y_400mf-e6988f5f.pth', 75.804),
  convnext_tiny: tv('ConvNeXt_Tiny_Weights.IMAGENET1K_V1', 'convnext_tiny-983f1562.pth', 82.52),
  vit_b_16: tv('ViT_B_16_Weights.IMAGENET1K_V1', 'vit_b_16-c867db91.pth', 81.072),
  vit_b_32: tv('ViT_B_32_Weights.IMAGENET1K_V1', 'vit_b_32-d86f8d99.pth', 75.912),
  swin_t: tv('Swin_T_Weights.IMAGENET1K_V1', 'swin_t-704ceda3.pth', 81.474),
};
