#!/usr/bin/python3
"""Write the small committed fixture models under tests/fixtures/models/ (deterministic).

  vit-tiny/        model.onnx, config.json (vit_msn), preprocessor_config.json (ViTImageProcessor,
                   224x224 bilinear); output last_hidden_state; seed 0.
  vit-tiny-crop/   onnx/model.onnx, onnx/model_quantized.onnx (same weights, int8 weight-only via
                   DequantizeLinear), config.json (dinov2), preprocessor_config.json (shortest edge
                   256 bicubic + centre crop 224); outputs last_hidden_state, pooler_output; seed 1.

Both: image 224, patch 16, hidden 48, 2 layers, 3 heads, mlp 96 (see vit_fixture.SHAPES["tiny"]).
FIXTURES below is also read by scripts/parity/make_reference.py to rebuild the same torch modules.

usage: /usr/bin/python3 scripts/models/make_fixture_models.py [REPO_ROOT]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vit_fixture as vf  # noqa: E402

# dir name -> how it is built; paths relative to the model dir.
FIXTURES = {
    "vit-tiny": dict(shape="tiny", seed=0, pooler=False, model="model.onnx", quantized=None,
                     config="vit_msn", preprocessor=vf.PREPROCESSOR_VIT),
    "vit-tiny-crop": dict(shape="tiny", seed=1, pooler=True, model="onnx/model.onnx",
                          quantized="onnx/model_quantized.onnx",
                          config="dinov2", preprocessor=vf.PREPROCESSOR_CROP),
}
MAX_BYTES = 2 * 1024 * 1024


def build(name):
    f = FIXTURES[name]
    return vf.build(f["shape"], f["seed"], pooler=f["pooler"])


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    base = os.path.join(os.path.abspath(root), "tests", "fixtures", "models")
    for name, f in FIXTURES.items():
        out = os.path.join(base, name)
        hidden, layers, heads, mlp = vf.SHAPES[f["shape"]]
        model = build(name)
        onnx_path = os.path.join(out, f["model"])
        vf.export_onnx(model, onnx_path)
        written = [onnx_path]
        if f["quantized"]:
            q = os.path.join(out, f["quantized"])
            n = vf.quantize_weights_int8(onnx_path, q)
            print(f"{name}: quantized {n} weight tensors to int8")
            written.append(q)
        cfg = (vf.vit_msn_config if f["config"] == "vit_msn" else vf.dinov2_config)(
            hidden, layers, heads, mlp)
        vf.write_json(os.path.join(out, "config.json"), cfg)
        vf.write_json(os.path.join(out, "preprocessor_config.json"), f["preprocessor"])
        for p in written + [os.path.join(out, "config.json"), os.path.join(out, "preprocessor_config.json")]:
            size = os.path.getsize(p)
            assert size < MAX_BYTES, f"{p} is {size} bytes"
            print(f"{os.path.relpath(p, root)}  {size} bytes")


if __name__ == "__main__":
    main()
