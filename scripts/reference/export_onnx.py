"""Exports torchvision ResNet-18 with the deterministic weights to ONNX as torch.onnx does
by default in eval mode (PyTorch 1.13 folds every BatchNorm into its conv, whatever
do_constant_folding says). The file is large; scripts/reference/strip-onnx.ts turns it into
a small weightless skeleton under test/fixtures/onnx/.

    /usr/bin/python3 scripts/reference/export_onnx.py /tmp/pss-onnx
"""

import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(__file__))
from deterministic import input_value, load_deterministic  # noqa: E402

out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/pss-onnx"
os.makedirs(out, exist_ok=True)
model = torchvision.models.resnet18(weights=None)
load_deterministic(model)
model.eval()
x = torch.from_numpy(input_value("input", (1, 3, 224, 224)))
for name, folding in (("resnet18-folded", True),):
    torch.onnx.export(
        model,
        x,
        os.path.join(out, f"{name}.onnx"),
        opset_version=13,
        do_constant_folding=folding,
        training=torch.onnx.TrainingMode.EVAL,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
    )
    print("wrote", os.path.join(out, f"{name}.onnx"))
