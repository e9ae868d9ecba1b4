#!/usr/bin/python3
"""A seeded random-weight CLIP (both towers) in plain torch, with HF CLIPModel's structure, and the
files of its two on-disk layouts.

Structure (as transformers' modeling_clip, rewritten here because `transformers` is not installed):
  vision: Conv2d patch embedding (no bias) + class embedding + learned positions, pre_layrnorm,
          N pre-LN encoder layers (q/k/v/out projections with bias, quick_gelu MLP),
          last_hidden_state = encoder output, pooled = post_layernorm(CLS),
          image_embeds = visual_projection(pooled) (no bias).
  text:   token + learned position embeddings, the same encoder with a causal mask plus the
          padding mask from attention_mask, final_layer_norm -> last_hidden_state,
          pooled = last_hidden_state at argmax(input_ids) (the end-of-text token has the largest id,
          as in OpenAI's vocabulary; what HF does when eos_token_id == 2),
          text_embeds = text_projection(pooled) (no bias).

The tokenizer.json has the structure of openai/clip-vit-base-patch32's: NFC + whitespace collapse +
lowercase normalizer, CLIP's split regex then ByteLevel (no regex) pre-tokenizer, BPE with the
`</w>` end-of-word suffix over the 256 byte symbols (with and without `</w>`), merges learned here
from a small caption corpus, and a RobertaProcessing post-processor adding <|startoftext|> and
<|endoftext|>.
"""
import json
import os
import re
from collections import Counter

import numpy as np
import torch
from torch import nn

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
SPLIT_PATTERN = (r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|"
                 r"[^\s\p{L}\p{N}]+")
SOT, EOT = "<|startoftext|>", "<|endoftext|>"

# width, layers, heads, mlp, projection; image 224 / patch 32 is ViT-B/32's grid (7x7 + CLS).
SHAPES = {"tiny": dict(vision=(32, 2, 2, 64), text=(32, 2, 2, 64), projection=24, context=77,
                       image=224, patch=32),
          # openai/clip-vit-base-patch32's widths (the vocabulary stays the fixture's), for benchmarks.
          "b32": dict(vision=(768, 12, 12, 3072), text=(512, 12, 8, 2048), projection=512, context=77,
                      image=224, patch=32)}

# Caption-like English from which the BPE merges are learned (lower case, letters and spaces).
TRAINING_TEXT = """
a photo of a cat sitting on a sofa a photo of a dog running on the beach a picture of the sea at
sunset a red car parked in the street a group of people standing in a park a plate of food on a
table a bowl of fruit with apples and oranges a close up of a flower in the garden a bird flying
over the mountains a city skyline at night with lights a boat on the river under a bridge a child
playing with a ball on the grass a black and white photo of an old building a cup of coffee on a
wooden table a man riding a bicycle down the road a woman holding an umbrella in the rain a train
arriving at the station a snowy forest in winter a field of green grass under a blue sky a horse
standing in a meadow a kitchen with white cabinets a living room with a large window a laptop on a
desk next to a phone a painting of a starry night a fish swimming in an aquarium a butterfly on a
leaf a basketball game in a gym a board with chess pieces a sudoku puzzle printed on paper the
license plate of a moving car an airplane flying in the clouds a baboon with a colourful face an
orange and an apple on a plate smarties and sweets on a table a squirrel eating a nut a graffiti
wall in the city a house with a garden a football player kicking the ball a portrait of a woman
wearing glasses a view of the ocean from a cliff a dog and a cat sleeping together photos of
animals and people landscapes and portraits streets and buildings mountains rivers lakes and trees
"""


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character table (what ByteLevel uses)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def learn_bpe(text, max_merges):
    """Plain BPE training on words with `</w>` on the last symbol; ties broken by the pair itself,
    so the result is deterministic."""
    table = bytes_to_unicode()
    words = Counter(re.findall(r"[a-z]+", text.lower()))
    corpus = {}
    for word, count in words.items():
        symbols = [table[b] for b in word.encode("utf-8")]
        symbols[-1] += "</w>"
        corpus[tuple(symbols)] = count
    merges = []
    while len(merges) < max_merges:
        pairs = Counter()
        for symbols, count in corpus.items():
            for a, b in zip(symbols, symbols[1:]):
                pairs[(a, b)] += count
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        merged = {}
        for symbols, count in corpus.items():
            out, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    out.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + count
        corpus = merged
    return merges


def tokenizer_json(max_merges=600):
    """The tokenizer.json document and the vocabulary size (special tokens last, as in CLIP)."""
    table = bytes_to_unicode()
    base = list(table.values())
    vocab_list = base + [c + "</w>" for c in base]
    merges = learn_bpe(TRAINING_TEXT, max_merges)
    for a, b in merges:
        vocab_list.append(a + b)
    vocab_list += [SOT, EOT]
    vocab = {token: i for i, token in enumerate(vocab_list)}
    assert len(vocab) == len(vocab_list), "duplicate tokens"
    sot, eot = vocab[SOT], vocab[EOT]
    special = lambda i, content: {"id": i, "content": content, "single_word": False, "lstrip": False,
                                  "rstrip": False, "normalized": True, "special": True}
    document = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [special(sot, SOT), special(eot, EOT)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"},
            {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "},
            {"type": "Lowercase"}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": SPLIT_PATTERN}, "behavior": "Removed", "invert": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "RobertaProcessing", "sep": [EOT, eot], "cls": [SOT, sot],
                           "trim_offsets": False, "add_prefix_space": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": EOT, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "</w>", "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }
    return document, len(vocab)


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


class Attention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.head_dim = width // heads
        self.scale = self.head_dim ** -0.5
        self.q_proj = nn.Linear(width, width)
        self.k_proj = nn.Linear(width, width)
        self.v_proj = nn.Linear(width, width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x, mask=None):
        b, t, w = x.shape
        split = lambda y: y.reshape(b, t, self.heads, self.head_dim).transpose(1, 2)
        q, k, v = split(self.q_proj(x) * self.scale), split(self.k_proj(x)), split(self.v_proj(x))
        scores = q @ k.transpose(-1, -2)
        if mask is not None:
            scores = scores + mask
        out = torch.softmax(scores, dim=-1) @ v
        return self.out_proj(out.transpose(1, 2).reshape(b, t, w))


class EncoderLayer(nn.Module):
    def __init__(self, width, heads, mlp):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(width, eps=1e-5)
        self.self_attn = Attention(width, heads)
        self.layer_norm2 = nn.LayerNorm(width, eps=1e-5)
        self.fc1 = nn.Linear(width, mlp)
        self.fc2 = nn.Linear(mlp, width)

    def forward(self, x, mask=None):
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.fc2(quick_gelu(self.fc1(self.layer_norm2(x))))


class VisionTower(nn.Module):
    """CLIPVisionModelWithProjection: pixel_values -> (image_embeds, last_hidden_state)."""

    def __init__(self, width, layers, heads, mlp, projection, image, patch):
        super().__init__()
        self.patch_embedding = nn.Conv2d(3, width, patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(width))
        self.position_embedding = nn.Embedding((image // patch) ** 2 + 1, width)
        self.pre_layrnorm = nn.LayerNorm(width, eps=1e-5)
        self.layers = nn.ModuleList([EncoderLayer(width, heads, mlp) for _ in range(layers)])
        self.post_layernorm = nn.LayerNorm(width, eps=1e-5)
        self.visual_projection = nn.Linear(width, projection, bias=False)

    def forward(self, pixel_values):
        patches = self.patch_embedding(pixel_values).flatten(2).transpose(1, 2)
        cls = self.class_embedding.expand(patches.shape[0], 1, -1)
        x = torch.cat([cls, patches], dim=1) + self.position_embedding.weight.unsqueeze(0)
        x = self.pre_layrnorm(x)
        for layer in self.layers:
            x = layer(x)
        pooled = self.post_layernorm(x[:, 0, :])
        return self.visual_projection(pooled), x


class TextTower(nn.Module):
    """CLIPTextModelWithProjection: (input_ids, attention_mask) -> (text_embeds, last_hidden_state)."""

    def __init__(self, width, layers, heads, mlp, projection, vocab, context):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, width)
        self.position_embedding = nn.Embedding(context, width)
        self.layers = nn.ModuleList([EncoderLayer(width, heads, mlp) for _ in range(layers)])
        self.final_layer_norm = nn.LayerNorm(width, eps=1e-5)
        self.text_projection = nn.Linear(width, projection, bias=False)

    def forward(self, input_ids, attention_mask=None):
        b, t = input_ids.shape
        positions = torch.arange(t, device=input_ids.device)
        x = self.token_embedding(input_ids) + self.position_embedding(positions).unsqueeze(0)
        low = torch.finfo(x.dtype).min
        causal = torch.triu(torch.full((t, t), low), diagonal=1).unsqueeze(0).unsqueeze(0)
        mask = causal
        if attention_mask is not None:
            padding = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * low
            mask = causal + padding
        for layer in self.layers:
            x = layer(x, mask)
        x = self.final_layer_norm(x)
        # HF casts to int32 before argmax (ONNX Runtime's ArgMax has no int64 kernel).
        eot = input_ids.to(torch.int32).argmax(dim=-1)
        pooled = x[torch.arange(b), eot]
        return self.text_projection(pooled), x


class Normalized(nn.Module):
    """One tower's embedding, L2-normalised, as Immich's exports (open_clip encode_*(normalize=True))."""

    def __init__(self, tower):
        super().__init__()
        self.tower = tower

    def forward(self, *inputs):
        embeds = self.tower(*inputs)[0]
        return embeds / embeds.norm(dim=-1, keepdim=True)


def build(shape="tiny", seed=0, vocab=None):
    s = SHAPES[shape]
    torch.manual_seed(seed)
    vision = VisionTower(*s["vision"], s["projection"], s["image"], s["patch"])
    text = TextTower(*s["text"], s["projection"], vocab, s["context"])
    # nn defaults give near-zero embeddings; larger random ones make every token matter.
    with torch.no_grad():
        for emb in (vision.position_embedding, text.token_embedding, text.position_embedding):
            emb.weight.normal_(0, 0.5)
    return vision.eval(), text.eval()


def clip_config(shape, vocab):
    s = SHAPES[shape]
    (vw, vl, vh, vm), (tw, tl, th, tm) = s["vision"], s["text"]
    return {
        "architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": s["projection"],
        "logit_scale_init_value": 2.6592, "torch_dtype": "float32",
        "text_config": {"model_type": "clip_text_model", "hidden_size": tw, "intermediate_size": tm,
                        "num_attention_heads": th, "num_hidden_layers": tl,
                        "max_position_embeddings": s["context"], "vocab_size": vocab,
                        "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "projection_dim": s["projection"],
                        "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1},
        "vision_config": {"model_type": "clip_vision_model", "hidden_size": vw, "intermediate_size": vm,
                          "num_attention_heads": vh, "num_hidden_layers": vl, "image_size": s["image"],
                          "patch_size": s["patch"], "num_channels": 3, "hidden_act": "quick_gelu",
                          "layer_norm_eps": 1e-5, "projection_dim": s["projection"]},
    }


def open_clip_config(shape, vocab):
    s = SHAPES[shape]
    (vw, vl, vh, vm), (tw, tl, th, tm) = s["vision"], s["text"]
    return {"embed_dim": s["projection"], "quick_gelu": True,
            "vision_cfg": {"image_size": s["image"], "layers": vl, "width": vw, "patch_size": s["patch"]},
            "text_cfg": {"context_length": s["context"], "vocab_size": vocab, "width": tw, "heads": th, "layers": tl}}


PREPROCESSOR_CLIP = {
    "crop_size": 224, "do_center_crop": True, "do_normalize": True, "do_resize": True,
    "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": CLIP_MEAN, "image_std": CLIP_STD,
    "resample": 3, "size": 224,
}
PREPROCESS_CFG_OPEN_CLIP = {
    "size": [224, 224], "mode": "RGB", "mean": CLIP_MEAN, "std": CLIP_STD,
    "interpolation": "bicubic", "resize_mode": "shortest", "fill_color": 0,
}


def _fix_dims(path, concrete):
    """Write real sizes for the non-dynamic axes the exporter left symbolic."""
    import onnx
    m = onnx.load(path)
    for out in m.graph.output:
        dims = out.type.tensor_type.shape.dim
        for i, d in enumerate(dims):
            key = (out.name, i)
            if key in concrete:
                d.ClearField("dim_param")
                d.dim_value = concrete[key]
    onnx.checker.check_model(m)
    onnx.save(m, path)


def export_transformers_js(vision, text, out_dir, shape="tiny", opset=14):
    """onnx/vision_model.onnx and onnx/text_model.onnx as Xenova's exports name things."""
    s = SHAPES[shape]
    os.makedirs(os.path.join(out_dir, "onnx"), exist_ok=True)
    tokens = (s["image"] // s["patch"]) ** 2 + 1
    vpath = os.path.join(out_dir, "onnx", "vision_model.onnx")
    torch.onnx.export(vision, torch.zeros(1, 3, s["image"], s["image"]), vpath,
                      input_names=["pixel_values"], output_names=["image_embeds", "last_hidden_state"],
                      dynamic_axes={"pixel_values": {0: "batch_size"}, "image_embeds": {0: "batch_size"},
                                    "last_hidden_state": {0: "batch_size"}},
                      opset_version=opset, do_constant_folding=True)
    _fix_dims(vpath, {("image_embeds", 1): s["projection"], ("last_hidden_state", 1): tokens,
                      ("last_hidden_state", 2): s["vision"][0]})
    tpath = os.path.join(out_dir, "onnx", "text_model.onnx")
    ids = torch.ones(2, 7, dtype=torch.int64)
    torch.onnx.export(text, (ids, torch.ones_like(ids)), tpath,
                      input_names=["input_ids", "attention_mask"], output_names=["text_embeds", "last_hidden_state"],
                      dynamic_axes={"input_ids": {0: "batch_size", 1: "sequence_length"},
                                    "attention_mask": {0: "batch_size", 1: "sequence_length"},
                                    "text_embeds": {0: "batch_size"},
                                    "last_hidden_state": {0: "batch_size", 1: "sequence_length"}},
                      opset_version=opset, do_constant_folding=True)
    _fix_dims(tpath, {("text_embeds", 1): s["projection"], ("last_hidden_state", 2): s["text"][0]})
    return vpath, tpath


def export_immich(vision, text, out_dir, shape="tiny", opset=14):
    """visual/model.onnx (image [1,3,S,S] -> embedding) and textual/model.onnx (text int32 [1,ctx] ->
    embedding), both normalised and with a fixed batch of one, as Immich's exporter writes them."""
    s = SHAPES[shape]
    os.makedirs(os.path.join(out_dir, "visual"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "textual"), exist_ok=True)
    vpath = os.path.join(out_dir, "visual", "model.onnx")
    torch.onnx.export(Normalized(vision), torch.zeros(1, 3, s["image"], s["image"]), vpath,
                      input_names=["image"], output_names=["embedding"], opset_version=opset,
                      do_constant_folding=True)
    tpath = os.path.join(out_dir, "textual", "model.onnx")
    torch.onnx.export(Normalized(text), (torch.ones(1, s["context"], dtype=torch.int32),), tpath,
                      input_names=["text"], output_names=["embedding"], opset_version=opset,
                      do_constant_folding=True)
    return vpath, tpath


def write_json(path, obj):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def load_onnx_weights_check(path, feeds, expected, tol=1e-4):
    """Runs the ONNX file with the numpy reference evaluator when onnx has one (onnx >= 1.13)."""
    try:
        from onnx.reference import ReferenceEvaluator
    except ImportError:
        return None
    got = ReferenceEvaluator(path).run(None, feeds)[0]
    diff = float(np.abs(got - expected).max())
    assert diff < tol, f"{path}: max abs diff {diff}"
    return diff
