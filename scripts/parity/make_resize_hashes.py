#!/usr/bin/python3
"""SHA-256 of Pillow's decoded and resized RGB bytes for each full-size fixture photo (tests/fixtures/photos/originals), so a test can check that our
decoder + resampler produce exactly the same pixels (not just similar embeddings).
usage: make_resize_hashes.py [PHOTOS_DIR] [OUT_JSON]"""
import hashlib, json, os, sys
from PIL import Image, ImageOps

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
photos = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "fixtures", "photos", "originals")
out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "tests", "fixtures", "parity", "pillow-resize-sha256.json")

def sha(img):
    return hashlib.sha256(img.tobytes()).hexdigest()

result = {"photos": "tests/fixtures/photos/originals", "decoded": {}, "bilinear_224x224": {}, "bicubic_shortest_256": {}}
for name in sorted(f for f in os.listdir(photos) if f.lower().endswith((".jpg", ".jpeg", ".png"))):
    img = ImageOps.exif_transpose(Image.open(os.path.join(photos, name))).convert("RGB")
    result["decoded"][name] = sha(img)
    result["bilinear_224x224"][name] = sha(img.resize((224, 224), Image.BILINEAR, reducing_gap=None))
    w, h = img.size
    short, long_ = (w, h) if w <= h else (h, w)
    size = (256, int(256 * long_ / short)) if w <= h else (int(256 * long_ / short), 256)
    result["bicubic_shortest_256"][name] = sha(img.resize(size, Image.BICUBIC, reducing_gap=None))
json.dump(result, open(out, "w"), indent=1)
print("wrote", out, len(result["decoded"]), "photos")
