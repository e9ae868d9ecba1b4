#!/usr/bin/python3
"""Write tests/fixtures/photos/: downscaled copies of the full-size photos in photos/originals/ plus hard cases.

  photos/<name>            every original photo, long side <= 320 (Lanczos), mode kept; .jpg as JPEG
                           quality 90, .png as PNG; no metadata carried over.
  photos/README.md         attribution (the sources and licences section of originals/README.md).
  photos/hard/grayscale.jpg     mode L JPEG
  photos/hard/rgba.png          RGBA, alpha a horizontal ramp 0..255 (convert("RGB") drops alpha)
  photos/hard/cmyk.jpg          CMYK JPEG (Adobe marker, as libjpeg/Pillow write it)
  photos/hard/exif-rotated.jpg  pixels stored rotated 90 deg CCW with EXIF Orientation=6, so
                                ImageOps.exif_transpose shows it upright
  photos/hard/palette.png       mode P (64-colour adaptive palette)
  photos/hard/not-an-image.jpg  text bytes
  photos/hard/truncated.jpg     first 40% of a JPEG
Deterministic. usage: /usr/bin/python3 scripts/parity/make_fixture_photos.py [SRC_DIR]
"""
import io
import os
import sys

import numpy as np
from PIL import Image, ImageOps

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(REPO, "tests", "fixtures", "photos")
SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(OUT, "originals")
HARD = os.path.join(OUT, "hard")
LONG_SIDE = 320


def save(img, path):
    if path.lower().endswith((".jpg", ".jpeg")):
        img.save(path, "JPEG", quality=90)
    else:
        img.save(path, "PNG")


def main():
    os.makedirs(HARD, exist_ok=True)
    for fn in sorted(os.listdir(SRC)):
        if not fn.lower().endswith((".jpg", ".jpeg", ".png")):
            continue
        img = Image.open(os.path.join(SRC, fn))
        img = ImageOps.exif_transpose(img)  # all original photos are upright (Orientation absent or 1)
        img.thumbnail((LONG_SIDE, LONG_SIDE), Image.LANCZOS)
        save(img, os.path.join(OUT, fn))
    readme = open(os.path.join(OUT, "originals", "README.md")).read()
    attribution = readme[readme.index("## Where they come from"):]
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("# Development photos, downscaled\n\n"
                "Downscaled copies (long side <= 320 px, re-encoded) of the full-size photos in `originals/`,\n"
                "written by `scripts/parity/make_fixture_photos.py`; `hard/` holds decoder edge cases derived\n"
                "from them.\n\n" + attribution)

    def small(name):
        return Image.open(os.path.join(OUT, name))

    small("opencv-fruits.jpg").convert("L").save(os.path.join(HARD, "grayscale.jpg"), quality=90)

    rgb = small("opencv-butterfly.jpg").convert("RGB")
    w, h = rgb.size
    alpha = np.tile(np.linspace(0, 255, w).round().astype(np.uint8), (h, 1))
    rgba = rgb.copy()
    rgba.putalpha(Image.fromarray(alpha, "L"))
    rgba.save(os.path.join(HARD, "rgba.png"))

    small("opencv-baboon.jpg").convert("CMYK").save(os.path.join(HARD, "cmyk.jpg"), quality=90)

    upright = small("opencv-messi5.jpg").convert("RGB")  # 320x200: orientation matters
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # 90 deg CCW; Orientation 6 undoes it
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(os.path.join(HARD, "exif-rotated.jpg"), quality=90, exif=exif.tobytes())

    small("opencv-smarties.png").convert("RGB").quantize(64, method=Image.Quantize.MEDIANCUT).save(
        os.path.join(HARD, "palette.png"))

    with open(os.path.join(HARD, "not-an-image.jpg"), "wb") as f:
        f.write(b"This is not an image. It is a text file with a .jpg extension.\n")

    buf = io.BytesIO()
    small("opencv-home.jpg").save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    with open(os.path.join(HARD, "truncated.jpg"), "wb") as f:
        f.write(data[: int(len(data) * 0.4)])

    # sanity checks
    r = ImageOps.exif_transpose(Image.open(os.path.join(HARD, "exif-rotated.jpg"))).convert("RGB")
    assert r.size == upright.size, (r.size, upright.size)
    err = np.abs(np.asarray(r, np.int16) - np.asarray(upright, np.int16)).mean()
    assert err < 8, err
    for fn, mode in [("grayscale.jpg", "L"), ("rgba.png", "RGBA"), ("cmyk.jpg", "CMYK"),
                     ("palette.png", "P"), ("exif-rotated.jpg", "RGB")]:
        assert Image.open(os.path.join(HARD, fn)).mode == mode, fn
    for fn in sorted(os.listdir(OUT)) + ["hard/" + f for f in sorted(os.listdir(HARD))]:
        p = os.path.join(OUT, fn)
        if os.path.isfile(p):
            print(f"{os.path.relpath(p, REPO)}  {os.path.getsize(p)} bytes")


if __name__ == "__main__":
    main()
