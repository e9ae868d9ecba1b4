#!/usr/bin/python3
"""Parity reference embeddings for the fixture models, computed the Hugging Face way.

For each image: Pillow open, ImageOps.exif_transpose, convert("RGB"), then as the HF image
processor does it (settings from the model's preprocessor_config.json):
  size {height,width}   -> img.resize((width, height), resample, reducing_gap=None)
  size {shortest_edge}  -> short side = S, long side = int(S * long / short) (HF
                           get_resize_output_image_size, default_to_square=False), same resize, then
                           centre crop to crop_size with top = (h - ch) // 2, left = (w - cw) // 2
  x * rescale_factor (float64, cast to float32), (x - mean) / std in float32, HWC -> CHW.
The torch module is rebuilt from the seed (scripts/models/make_fixture_models.py FIXTURES) and
run in PyTorch, so the reference does not depend on ONNX Runtime. Before that the committed ONNX
file is checked against the torch module on one photo with a small numpy ONNX interpreter below
(this Debian onnx 1.12 has no onnx.reference); the max abs difference must be < 1e-4.

Output tests/fixtures/parity/<model>.json:
  {"model": name, "photos": dir, "pooling": {"cls": {file: [..]}, "mean": {..}, "pooler": {..}},
   "cls_raw": {file: [..]}, "skipped": {file: error}}
pooling vectors are L2-normalised (cls = last_hidden_state[:,0]; mean = mean over all tokens incl.
CLS; pooler = pooler_output, only for models that have it); cls_raw is the un-normalised CLS.
Floats are float32 values written as exact Python floats.

usage: /usr/bin/python3 scripts/parity/make_reference.py            # all references (default)
       /usr/bin/python3 scripts/parity/make_reference.py --model vit-tiny --photos DIR --out FILE
"""
import argparse
import json
import math
import re
import os
import sys

import numpy as np
import torch
from PIL import Image, ImageOps

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "scripts", "models"))
import make_fixture_models as fixtures  # noqa: E402

ORIGINAL_PHOTOS = os.path.join(REPO, "tests", "fixtures", "photos", "originals")
HARD_PHOTOS = os.path.join(REPO, "tests", "fixtures", "photos", "hard")
IMAGE_EXT = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


# ---------------------------------------------------------------- preprocessing (HF semantics)

def load_rgb(path):
    img = Image.open(path)
    img = ImageOps.exif_transpose(img)
    return img.convert("RGB")


def pixel_values(path, pp):
    img = load_rgb(path)
    resample = pp.get("resample", 2)
    size = pp["size"]
    if pp.get("do_resize", True):
        if "height" in size:
            img = img.resize((size["width"], size["height"]), resample=resample, reducing_gap=None)
        else:
            s = size["shortest_edge"]
            w, h = img.size
            short, long = (w, h) if w <= h else (h, w)
            new_short, new_long = s, int(s * long / short)
            nh, nw = (new_long, new_short) if w <= h else (new_short, new_long)
            img = img.resize((nw, nh), resample=resample, reducing_gap=None)
    a = np.asarray(img)  # uint8 HWC
    if pp.get("do_center_crop", False):
        ch, cw = pp["crop_size"]["height"], pp["crop_size"]["width"]
        h, w = a.shape[:2]
        assert h >= ch and w >= cw, "crop larger than image: padding not implemented"
        top, left = (h - ch) // 2, (w - cw) // 2
        a = a[top:top + ch, left:left + cw]
    x = a.astype(np.float32)
    if pp.get("do_rescale", True):
        x = (a.astype(np.float64) * pp["rescale_factor"]).astype(np.float32)
    if pp.get("do_normalize", True):
        mean = np.array(pp["image_mean"], dtype=np.float32)
        std = np.array(pp["image_std"], dtype=np.float32)
        x = (x - mean) / std
    return np.ascontiguousarray(x.transpose(2, 0, 1))


# ---------------------------------------------------------------- minimal numpy ONNX interpreter

def _np_dtype(elem_type):
    from onnx import helper, mapping
    if hasattr(helper, "tensor_dtype_to_np_dtype"):
        return helper.tensor_dtype_to_np_dtype(elem_type)
    return mapping.TENSOR_TYPE_TO_NP_TYPE[elem_type]


def _conv(x, w, b, a):
    strides = a.get("strides", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    assert a.get("group", 1) == 1 and all(d == 1 for d in a.get("dilations", [1, 1]))
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    kh, kw = w.shape[2:]
    oh = (x.shape[2] - kh) // strides[0] + 1
    ow = (x.shape[3] - kw) // strides[1] + 1
    out = np.zeros((x.shape[0], w.shape[0], oh, ow), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i:i + strides[0] * oh:strides[0], j:j + strides[1] * ow:strides[1]]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j], optimize=True)
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out.astype(np.float32)


def _reshape(x, shape, allowzero=0):
    shape = [int(s) for s in shape]
    if not allowzero:
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _slice(x, starts, ends, axes=None, steps=None):
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    sl = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        sl[int(ax)] = slice(int(s), int(max(min(e, 2**62), -2**62)), int(st))
    return x[tuple(sl)]


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


_erf = np.vectorize(math.erf, otypes=[np.float64])

OPS = {
    "Identity": lambda a, x: x,
    "Add": lambda a, x, y: x + y,
    "Sub": lambda a, x, y: x - y,
    "Mul": lambda a, x, y: x * y,
    "Div": lambda a, x, y: (x // y) if np.issubdtype(x.dtype, np.integer) else x / y,
    "Pow": lambda a, x, y: np.power(x, y).astype(x.dtype),
    "Sqrt": lambda a, x: np.sqrt(x),
    "Tanh": lambda a, x: np.tanh(x),
    "Erf": lambda a, x: _erf(x).astype(x.dtype),
    "Equal": lambda a, x, y: x == y,
    "Where": lambda a, c, x, y: np.where(c, x, y),
    "MatMul": lambda a, x, y: np.matmul(x, y),
    "Gemm": lambda a, x, y, c=None: (a.get("alpha", 1.0)
                                     * ((x.T if a.get("transA", 0) else x) @ (y.T if a.get("transB", 0) else y))
                                     + (a.get("beta", 1.0) * c if c is not None else 0)).astype(np.float32),
    "Conv": lambda a, x, w, b=None: _conv(x, w, b, a),
    "Shape": lambda a, x: np.array(x.shape, dtype=np.int64),
    "Gather": lambda a, x, i: np.take(x, i, axis=a.get("axis", 0)),
    "Unsqueeze": lambda a, x, axes: np.expand_dims(x, tuple(int(v) % (x.ndim + len(axes)) for v in axes)),
    "Concat": lambda a, *xs: np.concatenate(xs, axis=a["axis"]),
    "Transpose": lambda a, x: np.transpose(x, a.get("perm")),
    "Reshape": lambda a, x, s: _reshape(x, s, a.get("allowzero", 0)),
    "Slice": lambda a, x, *r: _slice(x, *r),
    "ReduceMean": lambda a, x: np.mean(x, axis=tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1))).astype(x.dtype),
    "Softmax": lambda a, x: _softmax(x, a.get("axis", -1)),
    "Cast": lambda a, x: x.astype(_np_dtype(a["to"])),
    "Expand": lambda a, x, s: np.broadcast_to(x, np.broadcast_shapes(x.shape, tuple(int(v) for v in s))).copy(),
    "ConstantOfShape": lambda a, s: np.full(tuple(int(v) for v in s), a["value"][0] if "value" in a else np.float32(0),
                                            dtype=a["value"].dtype if "value" in a else np.float32),
    "DequantizeLinear": lambda a, q, s, z=None: ((q.astype(np.float32) - (0 if z is None else z.astype(np.float32))) * s).astype(np.float32),
}


def run_onnx(path, feeds):
    """Evaluate an ONNX graph with numpy (only the ops the ViT export uses)."""
    import onnx
    from onnx import helper, numpy_helper
    m = onnx.load(path)
    env = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    env.update(feeds)
    for node in m.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        for k, v in attrs.items():
            if isinstance(v, onnx.TensorProto):
                attrs[k] = numpy_helper.to_array(v)
        if node.op_type == "Constant":
            outs = [attrs["value"]]
        else:
            if node.op_type not in OPS:
                raise NotImplementedError(node.op_type)
            args = [env[n] if n else None for n in node.input]
            outs = [OPS[node.op_type](attrs, *args)]
        for name, val in zip(node.output, outs):
            env[name] = np.asarray(val)
    return [env[o.name] for o in m.graph.output]


# ---------------------------------------------------------------- reference

def list_images(d):
    return sorted(f for f in os.listdir(d) if f.lower().endswith(IMAGE_EXT) and os.path.isfile(os.path.join(d, f)))


def floats(v):
    return [float(x) for x in np.asarray(v, dtype=np.float32)]


def l2(v):
    v = np.asarray(v, dtype=np.float64)
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def check_onnx(name, model, pv, tol=1e-4):
    """Committed ONNX (and quantized variant) vs the rebuilt torch module on one input."""
    f = fixtures.FIXTURES[name]
    mdir = os.path.join(REPO, "tests", "fixtures", "models", name)
    with torch.no_grad():
        ref = model(torch.from_numpy(pv[None]))
    ref = [t.numpy() for t in (ref if isinstance(ref, tuple) else (ref,))]
    got = run_onnx(os.path.join(mdir, f["model"]), {"pixel_values": pv[None]})
    diff = max(float(np.abs(r - g).max()) for r, g in zip(ref, got))
    print(f"{name}: ONNX (numpy interpreter) vs torch max abs diff {diff:.3g}")
    assert diff < tol, f"{name}: ONNX output differs from the torch module by {diff}"
    if f.get("quantized"):
        q = run_onnx(os.path.join(mdir, f["quantized"]), {"pixel_values": pv[None]})
        qd = max(float(np.abs(r - g).max()) for r, g in zip(ref, q))
        cos = float(l2(ref[0][0, 0]) @ l2(q[0][0, 0]))
        print(f"{name}: quantized vs float max abs diff {qd:.3g}, CLS cosine {cos:.5f}")
    return diff


def make_reference(name, photos, out, photos_label):
    f = fixtures.FIXTURES[name]
    mdir = os.path.join(REPO, "tests", "fixtures", "models", name)
    pp = json.load(open(os.path.join(mdir, "preprocessor_config.json")))
    model = fixtures.build(name)
    files, pvs, skipped = [], [], {}
    for fn in list_images(photos):
        try:
            pvs.append(pixel_values(os.path.join(photos, fn), pp))
            files.append(fn)
        except Exception as e:  # broken fixtures (not-an-image, truncated) have no reference
            skipped[fn] = f"{type(e).__name__}: {e}".replace(os.path.join(photos, fn), fn)
            print(f"  skipped {fn}: {skipped[fn]}")
    check_onnx(name, model, pvs[0])
    with torch.no_grad():
        res = model(torch.from_numpy(np.stack(pvs)))
    hidden = (res[0] if isinstance(res, tuple) else res).numpy()
    cls = hidden[:, 0]
    mean = hidden.astype(np.float64).mean(axis=1)
    pooling = {"cls": {fn: floats(l2(v)) for fn, v in zip(files, cls)},
               "mean": {fn: floats(l2(v)) for fn, v in zip(files, mean)}}
    if f["pooler"]:
        pooling["pooler"] = {fn: floats(l2(v)) for fn, v in zip(files, res[1].numpy())}
    doc = {"model": name, "photos": photos_label, "pooling": pooling,
           "cls_raw": {fn: floats(v) for fn, v in zip(files, cls)}}
    if skipped:
        doc["skipped"] = skipped
    os.makedirs(os.path.dirname(out), exist_ok=True)
    text = json.dumps(doc, indent=1)  # then one line per vector
    text = re.sub(r"\[\s+([-0-9.e,\s]+?)\s+\]", lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]", text)
    assert json.loads(text) == doc
    with open(out, "w") as fh:
        fh.write(text + "\n")
    # cosine statistics between different photos, per pooling
    for k, vecs in pooling.items():
        e = np.array([vecs[fn] for fn in files], dtype=np.float64)
        c = e @ e.T
        off = c[~np.eye(len(files), dtype=bool)]
        i, j = np.unravel_index(np.argmax(np.where(np.eye(len(files), dtype=bool), -2, c)), c.shape)
        print(f"  {k:6s} off-diagonal cosine min {off.min():.3f} mean {off.mean():.3f} max {off.max():.3f}"
              f" (max: {files[i]} / {files[j]}), share < 0.95: {(off < 0.95).mean():.2f}")
    print(f"wrote {os.path.relpath(out, REPO)} ({len(files)} photos, {os.path.getsize(out)} bytes)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=sorted(fixtures.FIXTURES))
    ap.add_argument("--photos", help="image directory (default: tests/fixtures/photos/originals)")
    ap.add_argument("--label", help='"photos" value written into the JSON')
    ap.add_argument("--out")
    args = ap.parse_args()
    parity = os.path.join(REPO, "tests", "fixtures", "parity")
    if args.model:
        photos = args.photos or ORIGINAL_PHOTOS
        ap_ = os.path.abspath(photos)  # relative to the repo, or to its parent for a directory beside it
        label = args.label or os.path.relpath(ap_, REPO if ap_.startswith(REPO + os.sep) else os.path.dirname(REPO))
        make_reference(args.model, photos, args.out or os.path.join(parity, args.model + ".json"), label)
        return
    for name in fixtures.FIXTURES:
        make_reference(name, ORIGINAL_PHOTOS, os.path.join(parity, name + ".json"), "tests/fixtures/photos/originals")
    make_reference("vit-tiny", HARD_PHOTOS, os.path.join(parity, "vit-tiny-hard.json"),
                   "tests/fixtures/photos/hard")


if __name__ == "__main__":
    main()
