"""Seeds for the fuzz harness that only PyTorch can write: small statistics files in the
original PSS authors' format ({'mean': float32[F], 'std': float64[F]}, torch.save), zip and
legacy. Run with /usr/bin/python3 (PyTorch 1.13) from this folder."""
import torch

stats = {
    "mean": torch.linspace(0.1, 0.8, 8, dtype=torch.float32),
    "std": torch.linspace(0.2, 0.9, 8, dtype=torch.float64),
}
torch.save(stats, "authors_resnet50_small.pth")
torch.save(stats, "authors_vgg19_small_legacy.pth", _use_new_zipfile_serialization=False)
# a strided view and a half-precision parameter: the tensor paths the state-dict seeds lack
base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
torch.save(
    {"t": base.t(), "h": torch.nn.Parameter(torch.ones(2, 2, dtype=torch.float16)), "n": 3, "s": "x"},
    "views.pth",
)
