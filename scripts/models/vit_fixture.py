"""Seeded random-weight ViTs in the Hugging Face ONNX layout, for tests and benchmarks.

build() returns a torch module mapping pixel_values [b,3,H,W] to last_hidden_state [b,tokens,hidden]
(CLS first, after the encoder's final LayerNorm, like HF's ViTModel) and, with pooler=True, also
pooler_output [b,hidden] = tanh(Linear(CLS)) like HF's ViTPooler. The same seed and shape always
give the same weights, so the parity reference (scripts/parity/make_reference.py) rebuilds the
module instead of reading the ONNX file.

export_onnx() writes the module as ONNX (input `pixel_values`, dynamic batch axis);
quantize_weights_int8() rewrites an ONNX file with int8 weights + DequantizeLinear (weight-only);
vit_msn_config()/dinov2_config() and PREPROCESSOR_* give config.json / preprocessor_config.json.

Needs Debian's python3-torch, python3-torchvision, python3-onnx, python3-numpy (/usr/bin/python3).
"""
import json
import os

import numpy as np
import torch
from torchvision.models.vision_transformer import VisionTransformer

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

# name -> (hidden, layers, heads, mlp)
SHAPES = {
    "tiny": (48, 2, 3, 96),
    "s16": (384, 12, 6, 1536),
    "b16": (768, 12, 12, 3072),
}

# ViTImageProcessor style (facebook/vit-msn-*): plain resize to a fixed size, bilinear.
PREPROCESSOR_VIT = {
    "do_normalize": True, "do_rescale": True, "do_resize": True,
    "image_mean": IMAGENET_MEAN, "image_std": IMAGENET_STD,
    "image_processor_type": "ViTImageProcessor", "resample": 2,
    "rescale_factor": 0.00392156862745098, "size": {"height": 224, "width": 224},
}

# DINOv2 / CLIP style: resize the shortest edge to 256 (bicubic), centre crop 224.
PREPROCESSOR_CROP = {
    "crop_size": {"height": 224, "width": 224}, "do_center_crop": True, "do_convert_rgb": True,
    "do_normalize": True, "do_rescale": True, "do_resize": True,
    "image_mean": IMAGENET_MEAN, "image_std": IMAGENET_STD, "resample": 3,
    "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 256},
}

# torchvision initialises the patch projection with std sqrt(1/fan_in); for the tiny 2-layer model
# that leaves CLS embeddings of different photos nearly parallel (cosine ~0.99). Scaling the patch
# projection up makes the image content dominate the residual stream. See make_fixture_models.py.
DEFAULT_PATCH_GAIN = 1.0


class HFViT(torch.nn.Module):
    """torchvision ViT wrapped to the Hugging Face ViTModel outputs."""

    def __init__(self, vit, pooler=None):
        super().__init__()
        self.vit = vit
        self.pooler = pooler

    def forward(self, pixel_values):
        x = self.vit._process_input(pixel_values)            # [b, patches, hidden]
        cls = self.vit.class_token.expand(x.shape[0], -1, -1)
        hidden = self.vit.encoder(torch.cat([cls, x], dim=1))  # + pos, layers, final LayerNorm
        if self.pooler is None:
            return hidden
        return hidden, torch.tanh(self.pooler(hidden[:, 0]))


def build(shape="tiny", seed=0, pooler=False, image_size=224, patch_size=16,
          patch_gain=DEFAULT_PATCH_GAIN):
    """Seeded random-weight ViT. shape is a key of SHAPES or a (hidden, layers, heads, mlp) tuple."""
    hidden, layers, heads, mlp = SHAPES[shape] if isinstance(shape, str) else shape
    torch.manual_seed(seed)
    vit = VisionTransformer(image_size=image_size, patch_size=patch_size, num_layers=layers,
                            num_heads=heads, hidden_dim=hidden, mlp_dim=mlp)
    vit.heads = torch.nn.Identity()  # classification head unused: keep it out of the state
    head = torch.nn.Linear(hidden, hidden) if pooler else None
    with torch.no_grad():  # torchvision zero-initialises some tensors; give every one signal
        params = list(vit.parameters()) + (list(head.parameters()) if head is not None else [])
        for p in params:
            if p.dim() == 1 and float(p.abs().sum()) == 0.0:
                p.normal_(0, 0.02)
        vit.class_token.normal_(0, 0.02)
        vit.conv_proj.weight.mul_(patch_gain)
    return HFViT(vit, head).eval()


def output_names(model):
    return ["last_hidden_state"] + (["pooler_output"] if model.pooler is not None else [])


def export_onnx(model, path, image_size=224, opset=14):
    """Export with input pixel_values [batch,3,H,W]; batch is the only dynamic axis."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    names = output_names(model)
    axes = {n: {0: "batch"} for n in ["pixel_values"] + names}
    dummy = torch.zeros(1, 3, image_size, image_size)
    # Not under no_grad: with grad disabled, eval-mode nn.MultiheadAttention (even head count) takes
    # the fused aten::_native_multi_head_attention path, which torch 1.13 cannot export.
    torch.onnx.export(model, dummy, path, input_names=["pixel_values"], output_names=names,
                      dynamic_axes=axes, opset_version=opset, do_constant_folding=True)
    with torch.no_grad():
        outs = model(dummy)
    # The exporter leaves token and hidden dims symbolic ("Addlast_hidden_state_dim_1"); write the
    # real sizes into the graph outputs so tools and the service see [batch, tokens, hidden].
    import onnx
    m = onnx.load(path)
    for out, t in zip(m.graph.output, outs if isinstance(outs, tuple) else (outs,)):
        dims = out.type.tensor_type.shape.dim
        for d, n in list(zip(dims, t.shape))[1:]:
            d.ClearField("dim_param")
            d.dim_value = int(n)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def vit_msn_config(hidden, layers, heads, mlp, image_size=224, patch_size=16):
    return {
        "architectures": ["ViTMSNModel"], "attention_probs_dropout_prob": 0.0,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "hidden_size": hidden,
        "image_size": image_size, "initializer_range": 0.02, "intermediate_size": mlp,
        "layer_norm_eps": 1e-06, "model_type": "vit_msn", "num_attention_heads": heads,
        "num_channels": 3, "num_hidden_layers": layers, "patch_size": patch_size,
        "qkv_bias": True, "torch_dtype": "float32",
    }


def dinov2_config(hidden, layers, heads, mlp, image_size=224, patch_size=16):
    return {
        "architectures": ["Dinov2Model"], "attention_probs_dropout_prob": 0.0,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "hidden_size": hidden,
        "image_size": image_size, "initializer_range": 0.02, "layer_norm_eps": 1e-06,
        "layerscale_value": 1.0, "mlp_ratio": mlp / hidden, "model_type": "dinov2",
        "num_attention_heads": heads, "num_channels": 3, "num_hidden_layers": layers,
        "patch_size": patch_size, "qkv_bias": True, "torch_dtype": "float32",
        "use_swiglu_ffn": False,
    }


def write_json(path, obj):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def quantize_weights_int8(src, dst, min_elements=256):
    """Weight-only int8 quantization with the onnx package alone.

    Every float32 initializer with >= 2 dims and >= min_elements values (MatMul weights, the patch
    Conv weight, the position embedding) is stored as int8 with a per-tensor symmetric scale, and a
    DequantizeLinear node (opset >= 10) restores the float tensor under the original name, so the
    rest of the graph is unchanged. Activations stay float32.
    """
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(src)
    g = m.graph
    keep, new_nodes = [], []
    for init in g.initializer:
        w = numpy_helper.to_array(init)
        if w.dtype != np.float32 or w.ndim < 2 or w.size < min_elements:
            keep.append(init)
            continue
        scale = np.float32(max(float(np.abs(w).max()), 1e-12) / 127.0)
        q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
        name = init.name
        keep.append(numpy_helper.from_array(q, name + "_quantized"))
        keep.append(numpy_helper.from_array(np.array(scale, np.float32), name + "_scale"))
        keep.append(numpy_helper.from_array(np.array(0, np.int8), name + "_zero_point"))
        new_nodes.append(helper.make_node(
            "DequantizeLinear", [name + "_quantized", name + "_scale", name + "_zero_point"],
            [name], name=name + "_DequantizeLinear"))
    del g.initializer[:]
    g.initializer.extend(keep)
    nodes = new_nodes + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(m)
    onnx.save(m, dst)
    return len(new_nodes)
