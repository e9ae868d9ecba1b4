#!/usr/bin/python3
"""Export seeded random-weight ViT-S/16 and ViT-B/16 for benchmarks, in the Hugging Face layout.

  OUTDIR/vit-s16/{model.onnx,config.json,preprocessor_config.json}   384-d, 6 heads, mlp 1536 (~87 MB)
  OUTDIR/vit-b16/{model.onnx,config.json,preprocessor_config.json}   768-d, 12 heads, mlp 3072 (~343 MB)

12 layers, image 224, patch 16, output last_hidden_state [batch,197,dim], dynamic batch; the
shapes of facebook/vit-msn-small / -base, so speed matches the real models (weights do not matter
for speed). config.json is vit_msn, preprocessor_config.json ViTImageProcessor 224x224 bilinear.

usage: /usr/bin/python3 scripts/models/export_bench_models.py [OUTDIR] [--seed N]   (default bench/models)
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vit_fixture as vf  # noqa: E402

MODELS = {"vit-s16": "s16", "vit-b16": "b16"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir", nargs="?", default=os.path.join("bench", "models"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for name, shape in MODELS.items():
        t = time.time()
        out = os.path.join(args.outdir, name)
        hidden, layers, heads, mlp = vf.SHAPES[shape]
        vf.export_onnx(vf.build(shape, args.seed), os.path.join(out, "model.onnx"))
        vf.write_json(os.path.join(out, "config.json"), vf.vit_msn_config(hidden, layers, heads, mlp))
        vf.write_json(os.path.join(out, "preprocessor_config.json"), vf.PREPROCESSOR_VIT)
        size = os.path.getsize(os.path.join(out, "model.onnx"))
        print(f"{out}/model.onnx  {size / 1e6:.1f} MB  ({time.time() - t:.0f} s)")


if __name__ == "__main__":
    main()
