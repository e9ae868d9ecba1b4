#!/usr/bin/python3
"""PyTorch reference embeddings for the random-weight CLIP fixture (tests/fixtures/models/clip-tiny).

Rebuilds the torch towers from make_clip_fixture.SEED, then writes tests/fixtures/parity/clip-tiny.json:
  text:   for every text of tests/fixtures/parity/clip-tiny-tokens.json (made by make_clip_tokens.mjs),
          the L2-normalised text_embeds of its reference ids truncated to the context
  images: for every photo in tests/fixtures/photos, the L2-normalised image_embeds after the
          CLIPFeatureExtractor preprocessing (Pillow bicubic shortest edge 224, centre crop 224)

usage: /usr/bin/python3 scripts/parity/make_clip_reference.py
"""
import json
import os
import sys

import numpy as np
import torch

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "scripts", "models"))
sys.path.insert(0, os.path.join(REPO, "scripts", "parity"))
import clip_fixture as cf  # noqa: E402
import make_clip_fixture as fixture  # noqa: E402
import make_reference as ref  # noqa: E402

PHOTOS = os.path.join(REPO, "tests", "fixtures", "photos")


def main():
    tokens = json.load(open(os.path.join(REPO, "tests", "fixtures", "parity", "clip-tiny-tokens.json"), encoding="utf-8"))
    _, _, vision, text = fixture.build()
    out = {"model": "clip-tiny", "photos": "tests/fixtures/photos", "text": {}, "images": {}}
    with torch.no_grad():
        for item in tokens["items"]:
            ids = torch.tensor([item["truncated"]], dtype=torch.int64)
            embeds, _ = text(ids, torch.ones_like(ids))
            out["text"][item["text"]] = ref.floats(ref.l2(embeds[0].numpy()))
        pp = dict(cf.PREPROCESSOR_CLIP, size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224},
                  rescale_factor=1 / 255)
        for name in ref.list_images(PHOTOS):
            pv = torch.from_numpy(ref.pixel_values(os.path.join(PHOTOS, name), pp)).unsqueeze(0)
            embeds, _ = vision(pv)
            out["images"][name] = ref.floats(ref.l2(embeds[0].numpy()))
    path = os.path.join(REPO, "tests", "fixtures", "parity", "clip-tiny.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
        f.write("\n")
    texts = list(out["text"].values())
    sims = np.array(texts) @ np.array(texts).T
    print(f"{len(out['text'])} texts, {len(out['images'])} images -> {os.path.relpath(path, REPO)}; "
          f"text-text cosine off-diagonal max {np.max(sims - np.eye(len(texts)) * 2):.3f}")


if __name__ == "__main__":
    main()
