#!/usr/bin/env python3
"""Export the old system's real model, facebook/vit-msn-base, to the service's model layout.

Needs internet (Hugging Face hub) and `pip install torch transformers` (+ `onnxruntime` for the
optional check); it cannot run on the offline dev machine. Writes

  OUTDIR/model.onnx                 input pixel_values [batch,3,224,224] -> last_hidden_state
                                    [batch,197,768], dynamic batch, opset 14
  OUTDIR/config.json                model.config.save_pretrained (model_type "vit_msn")
  OUTDIR/preprocessor_config.json   AutoImageProcessor.save_pretrained (ViTImageProcessor)

usage: python3 scripts/models/export_vit_msn_base.py OUTDIR [MODEL_ID]

Alternative with Hugging Face Optimum (same layout, output last_hidden_state):
  optimum-cli export onnx --model facebook/vit-msn-base --task feature-extraction OUTDIR
"""
import inspect
import os
import sys

import torch
from transformers import AutoImageProcessor, ViTMSNModel


class LastHidden(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixel_values):
        return self.model(pixel_values=pixel_values).last_hidden_state


def main():
    out = sys.argv[1]
    model_id = sys.argv[2] if len(sys.argv) > 2 else "facebook/vit-msn-base"
    os.makedirs(out, exist_ok=True)
    try:  # plain attention ops export most portably; older transformers lack the argument
        model = ViTMSNModel.from_pretrained(model_id, attn_implementation="eager")
    except TypeError:
        model = ViTMSNModel.from_pretrained(model_id)
    model.eval()
    processor = AutoImageProcessor.from_pretrained(model_id)
    size = model.config.image_size
    dummy = torch.randn(1, 3, size, size)
    extra = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    path = os.path.join(out, "model.onnx")
    torch.onnx.export(LastHidden(model), dummy, path, input_names=["pixel_values"],
                      output_names=["last_hidden_state"],
                      dynamic_axes={"pixel_values": {0: "batch"}, "last_hidden_state": {0: "batch"}},
                      opset_version=14, do_constant_folding=True, **extra)
    model.config.save_pretrained(out)
    processor.save_pretrained(out)
    print("wrote", path, os.path.getsize(path), "bytes")
    try:  # optional check: ONNX Runtime vs PyTorch on a batch of 2
        import numpy as np
        import onnxruntime as ort
        x = torch.randn(2, 3, size, size)
        with torch.no_grad():
            ref = model(pixel_values=x).last_hidden_state.numpy()
        got = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(
            None, {"pixel_values": x.numpy()})[0]
        print("max abs diff onnxruntime vs torch:", float(np.abs(ref - got).max()))
    except ImportError:
        print("onnxruntime not installed: skipped the check")


if __name__ == "__main__":
    main()
