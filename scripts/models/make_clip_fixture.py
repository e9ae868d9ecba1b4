#!/usr/bin/python3
"""Write the committed random-weight CLIP fixtures (deterministic), one set of weights in two layouts:

  tests/fixtures/models/clip-tiny/          transformers.js layout (as Xenova/clip-vit-base-patch32):
      onnx/vision_model.onnx   pixel_values -> image_embeds, last_hidden_state   (dynamic batch)
      onnx/text_model.onnx     input_ids, attention_mask -> text_embeds, last_hidden_state
      onnx/*_quantized.onnx    int8 weight-only (DequantizeLinear) variants of both
      config.json (model_type clip, text_config.max_position_embeddings), preprocessor_config.json
      (CLIPFeatureExtractor: shortest edge 224 bicubic + centre crop 224), tokenizer.json,
      tokenizer_config.json
  tests/fixtures/models/clip-tiny-immich/   Immich's layout of the same weights:
      visual/model.onnx (image [1,3,224,224] -> embedding), visual/preprocess_cfg.json,
      textual/model.onnx (text int32 [1,77] -> embedding), textual/tokenizer.json,
      textual/tokenizer_config.json, config.json (open_clip model config)

Shapes: clip_fixture.SHAPES["tiny"] (width 32, 2 layers, 2 heads, projection 24, context 77, ViT-B/32 grid).
scripts/parity/make_clip_reference.py rebuilds the same torch modules from SEED.

usage: /usr/bin/python3 scripts/models/make_clip_fixture.py [REPO_ROOT]
       /usr/bin/python3 scripts/models/make_clip_fixture.py --bench OUTDIR
           a ViT-B/32-shaped CLIP (clip_fixture.SHAPES["b32"], ~600 MB, not committed) in the
           transformers.js layout, for bench/ (speed does not depend on weight values)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clip_fixture as cf  # noqa: E402
import vit_fixture as vf  # noqa: E402

SEED = 7
SHAPE = "tiny"
MAX_BYTES = 2 * 1024 * 1024


def build():
    tokenizer, vocab = cf.tokenizer_json()
    vision, text = cf.build(SHAPE, SEED, vocab)
    return tokenizer, vocab, vision, text


def bench(out):
    tokenizer, vocab = cf.tokenizer_json()
    vision, text = cf.build("b32", SEED, vocab)
    cf.export_transformers_js(vision, text, out, "b32")
    cf.write_json(os.path.join(out, "config.json"), cf.clip_config("b32", vocab))
    cf.write_json(os.path.join(out, "preprocessor_config.json"), cf.PREPROCESSOR_CLIP)
    cf.write_json(os.path.join(out, "tokenizer.json"), tokenizer)
    print(f"wrote {out}")


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--bench":
        return bench(sys.argv[2])
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
    base = os.path.join(root, "tests", "fixtures", "models")
    tokenizer, vocab, vision, text = build()
    context = cf.SHAPES[SHAPE]["context"]
    tokenizer_config = {"model_max_length": context, "bos_token": cf.SOT, "eos_token": cf.EOT,
                        "pad_token": cf.EOT, "unk_token": cf.EOT, "do_lower_case": True,
                        "tokenizer_class": "CLIPTokenizer"}

    out = os.path.join(base, "clip-tiny")
    written = list(cf.export_transformers_js(vision, text, out, SHAPE))
    for name in ("vision_model", "text_model"):
        q = os.path.join(out, "onnx", name + "_quantized.onnx")
        n = vf.quantize_weights_int8(os.path.join(out, "onnx", name + ".onnx"), q)
        print(f"clip-tiny/{name}: quantized {n} weight tensors to int8")
        written.append(q)
    for file, obj in [("config.json", cf.clip_config(SHAPE, vocab)), ("preprocessor_config.json", cf.PREPROCESSOR_CLIP),
                      ("tokenizer.json", tokenizer), ("tokenizer_config.json", tokenizer_config)]:
        cf.write_json(os.path.join(out, file), obj)
        written.append(os.path.join(out, file))

    immich = os.path.join(base, "clip-tiny-immich")
    written += cf.export_immich(vision, text, immich, SHAPE)
    for file, obj in [("config.json", cf.open_clip_config(SHAPE, vocab)),
                      ("visual/preprocess_cfg.json", cf.PREPROCESS_CFG_OPEN_CLIP),
                      ("textual/tokenizer.json", tokenizer), ("textual/tokenizer_config.json", tokenizer_config)]:
        cf.write_json(os.path.join(immich, file), obj)
        written.append(os.path.join(immich, file))

    for p in written:
        size = os.path.getsize(p)
        assert size < MAX_BYTES, f"{p} is {size} bytes"
        print(f"{os.path.relpath(p, root)}  {size} bytes")


if __name__ == "__main__":
    main()
