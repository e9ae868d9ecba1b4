#!/usr/bin/env python3
"""Dynamic int8 quantization of a Hugging Face style ONNX model, with the onnx package alone.

    /usr/bin/python3 scripts/models/quantize_dynamic.py SRC_DIR [DST_DIR]
        [--per-tensor] [--min-elements 256] [--keep-bias-add] [--conv] [--weight-max 64] [--attention]

Reads SRC_DIR/model.onnx (or SRC_DIR/onnx/model.onnx) and writes DST_DIR/onnx/model_quantized.onnx
plus copies of config.json and preprocessor_config.json (DST_DIR defaults to SRC_DIR), the layout
the service loads with ImageRetrieval:Embedding:Quantized=true.

What it does -- the equivalent of onnxruntime.quantization.quantize_dynamic(weight_type=QInt8) for
transformer weight MatMuls, but emitting the fused op that ORT's graph optimiser would produce:

- Every MatMul whose second input is a float32 initializer of rank 2 with >= --min-elements values,
  and every Gemm (alpha=1, transA=0, constant B) likewise, becomes one com.microsoft
  DynamicQuantizeMatMul(A float, B int8 [K,N], b_scale float, -, bias float [N]).
  At run time ORT's CPU kernel quantizes A per tensor to uint8 (asymmetric, min/max of the whole
  activation), runs MLAS's u8 x s8 GEMM against B pre-packed at session load (AVX-512 VNNI
  vpdpbusd where the CPU has it), and applies scale and bias in the GEMM's output stage.
- Weights are quantized symmetrically (zero point 0, range [-64, 64], i.e. 7 bits, ORT's
  reduce_range): per output column (one scale per N, the default) or per tensor (--per-tensor).
  Gemm weights with transB=1 are transposed to [K,N] first. Why 7 bits: on x86 without VNNI
  (AVX2, AVX-512 without VNNI) MLAS multiplies u8 x s8 with vpmaddubsw, which adds each pair of
  products into a saturating int16: 2 x 255 x 127 overflows, 2 x 255 x 64 = 32640 does not. With
  full-range weights ViT-B/16 on an AVX2 Zen 3 lost cosine to fp32 (mean 0.952, min 0.881), with
  7-bit weights it keeps 0.9995 at the same speed (bench/results/int8-profile.md); ORT's own
  non-saturating fallback (session.x64quantprecision=1, u8 x u8) keeps 8 bits but is ~18% slower.
  On VNNI CPUs the 7 bits cost nothing measurable. --weight-max 127 restores full range.
- A MatMul whose only consumer is an Add of a constant float [N] vector has that vector folded in
  as the bias input (the Add disappears), unless --keep-bias-add.
- With --conv (for convolutional models such as ResNet), every Conv with a constant float32 weight
  of >= --min-elements values becomes DynamicQuantizeLinear (activation -> uint8, per tensor, shared
  by Convs reading the same tensor) -> ConvInteger (int8 weight, symmetric per output channel,
  --weight-max like the MatMuls) ->
  Cast -> Mul(activation scale x weight scales) -> Add(bias). Without it Convs stay float32.
  ONNX Runtime 1.31.1 runs this, but its ConvInteger kernel is slower than its fp32 Conv (measured
  0.3-0.5x on ResNet-18, see bench/results/real-weights-accuracy.md): the win is size, not speed.
- With --attention the MatMuls between two activations (attention scores and context) become
  DynamicQuantizeLinear (both sides) -> MatMulInteger -> Cast -> Mul; without it they stay
  float32 (ORT fuses them with the scale and the key transpose into FusedMatMul).
- Everything else (patch-embedding Conv unless --conv, LayerNorm, Softmax, GELU) stays float32.

Needs Debian's python3-onnx and python3-numpy; no onnxruntime Python package.
"""
import argparse
import collections
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

MS_DOMAIN = "com.microsoft"


def find_model(src):
    for rel in ("model.onnx", os.path.join("onnx", "model.onnx")):
        path = os.path.join(src, rel)
        if os.path.isfile(path):
            return path
    sys.exit(f"no model.onnx or onnx/model.onnx in {src}")


def quantize_weight(w, per_channel, qmax=127):
    """w: float32 [K, N]. Returns int8 [K, N] and float32 scale ([N] or scalar), symmetric in [-qmax, qmax]."""
    absmax = np.abs(w).max(axis=0) if per_channel else np.array(np.abs(w).max())
    scale = (np.maximum(absmax, 1e-12) / qmax).astype(np.float32)
    q = np.clip(np.rint(w / scale), -qmax, qmax).astype(np.int8)
    return q, scale


def attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def quantize_convs(graph, inits, per_channel, min_elements, stats, qmax):
    """Conv -> DynamicQuantizeLinear + ConvInteger + rescale, in place (see the module doc)."""
    nodes, activations, new_inits = [], {}, []
    for node in graph.node:
        w = inits.get(node.input[1]) if node.op_type == "Conv" else None
        bias = node.input[2] if node.op_type == "Conv" and len(node.input) > 2 else ""
        if (w is None or w.data_type != onnx.TensorProto.FLOAT or int(np.prod(w.dims)) < min_elements
                or (bias and bias not in inits)):
            if node.op_type == "Conv":
                stats["Conv kept fp32"] += 1
            nodes.append(node)
            continue
        name = node.name or node.output[0]
        x = node.input[0]
        if x not in activations:
            activations[x] = (x + "_u8", x + "_scale", x + "_zero_point")
            nodes.append(helper.make_node("DynamicQuantizeLinear", [x], list(activations[x]), name=x + "_quantize"))
        xq, xs, xzp = activations[x]
        weight = numpy_helper.to_array(w).astype(np.float32)
        flat = weight.reshape(weight.shape[0], -1)
        absmax = np.abs(flat).max(axis=1) if per_channel else np.full(weight.shape[0], np.abs(flat).max())
        scale = (np.maximum(absmax, 1e-12) / qmax).astype(np.float32)
        q = np.clip(np.rint(flat / scale[:, None]), -qmax, qmax).astype(np.int8).reshape(weight.shape)
        new_inits += [numpy_helper.from_array(q, name + "_W_int8"),
                      numpy_helper.from_array(np.array(0, dtype=np.int8), name + "_W_zero_point"),
                      numpy_helper.from_array(scale.reshape(-1, 1, 1), name + "_W_scale")]
        integer = helper.make_node("ConvInteger", [xq, name + "_W_int8", xzp, name + "_W_zero_point"], [name + "_int32"],
                                   name=name + "_int8")
        integer.attribute.extend(node.attribute)
        out = node.output[0]
        nodes += [integer,
                  helper.make_node("Cast", [name + "_int32"], [name + "_float"], to=onnx.TensorProto.FLOAT, name=name + "_to_float"),
                  helper.make_node("Mul", [xs, name + "_W_scale"], [name + "_out_scale"], name=name + "_scale"),
                  helper.make_node("Mul", [name + "_float", name + "_out_scale"], [name + "_unbiased" if bias else out],
                                   name=name + "_rescale")]
        if bias:
            b = numpy_helper.to_array(inits[bias]).astype(np.float32).reshape(-1, 1, 1)
            new_inits.append(numpy_helper.from_array(b, name + "_B_nchw"))
            nodes.append(helper.make_node("Add", [name + "_unbiased", name + "_B_nchw"], [out], name=name + "_bias"))
        stats["Conv -> ConvInteger"] += 1
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(new_inits)


def quantize_activation_matmuls(graph, inits, stats):
    """MatMul of two activations (attention scores, context) -> DynamicQuantizeLinear on both +
    MatMulInteger + Cast + Mul by the two scales (ORT fuses the tail into MatMulIntegerToFloat)."""
    nodes, activations = [], {}
    for node in graph.node:
        if node.op_type != "MatMul" or any(i in inits for i in node.input):
            nodes.append(node)
            continue
        qs = []
        for x in node.input[:2]:
            if x not in activations:
                activations[x] = (x + "_u8", x + "_scale", x + "_zero_point")
                nodes.append(helper.make_node("DynamicQuantizeLinear", [x], list(activations[x]), name=x + "_quantize"))
            qs.append(activations[x])
        (aq, as_, azp), (bq, bs, bzp) = qs
        name = node.name or node.output[0]
        nodes += [helper.make_node("MatMulInteger", [aq, bq, azp, bzp], [name + "_int32"], name=name + "_int8"),
                  helper.make_node("Cast", [name + "_int32"], [name + "_float"], to=onnx.TensorProto.FLOAT, name=name + "_to_float"),
                  helper.make_node("Mul", [as_, bs], [name + "_out_scale"], name=name + "_scale"),
                  helper.make_node("Mul", [name + "_float", name + "_out_scale"], [node.output[0]], name=name + "_rescale")]
        stats["activation MatMul -> MatMulInteger"] += 1
    del graph.node[:]
    graph.node.extend(nodes)


def quantize(src_path, dst_path, per_channel=True, min_elements=256, fold_bias=True, convs=False, qmax=64, attention=False):
    model = onnx.load(src_path)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    consumers = collections.defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    graph_outputs = {o.name for o in graph.output}

    def const_float(name, ndim):
        init = inits.get(name)
        if init is None or init.data_type != onnx.TensorProto.FLOAT or len(init.dims) != ndim:
            return None
        return numpy_helper.to_array(init)

    new_inits = []
    quantized_weights = {}  # (weight name, transposed) -> (q name, scale name)
    removed = set()         # ids of nodes dropped (folded bias Adds)
    replacement = {}        # id(node) -> new node
    stats = collections.Counter()

    def weight_inputs(name, transpose):
        key = (name, transpose)
        if key not in quantized_weights:
            w = numpy_helper.to_array(inits[name]).astype(np.float32)
            if transpose:
                w = np.ascontiguousarray(w.T)
            q, scale = quantize_weight(w, per_channel, qmax)
            base = name + ("_T" if transpose else "")
            qn, sn = base + "_quantized", base + "_scale"
            new_inits.append(numpy_helper.from_array(q, qn))
            new_inits.append(numpy_helper.from_array(scale, sn))
            quantized_weights[key] = (qn, sn)
        return quantized_weights[key]

    for node in graph.node:
        if node.op_type == "MatMul":
            w = const_float(node.input[1], 2)
            if w is None or w.size < min_elements:
                stats["MatMul kept fp32"] += 1
                continue
            qn, sn = weight_inputs(node.input[1], False)
            output, bias = node.output[0], ""
            users = consumers[output]
            if fold_bias and output not in graph_outputs and len(users) == 1 and users[0].op_type == "Add":
                add = users[0]
                other = add.input[1] if add.input[0] == output else add.input[0]
                b = const_float(other, 1)
                if b is not None and b.shape[0] == w.shape[1] and other != output:
                    bias, output = other, add.output[0]
                    removed.add(id(add))
                    stats["bias Add folded"] += 1
            replacement[id(node)] = helper.make_node(
                "DynamicQuantizeMatMul", [node.input[0], qn, sn, "", bias] if bias else [node.input[0], qn, sn],
                [output], name=(node.name or output) + "_quant", domain=MS_DOMAIN)
            stats["MatMul -> DynamicQuantizeMatMul"] += 1
        elif node.op_type == "Gemm":
            w = const_float(node.input[1], 2)
            ok = (w is not None and w.size >= min_elements and attr(node, "alpha", 1.0) == 1.0
                  and attr(node, "transA", 0) == 0)
            bias = node.input[2] if len(node.input) > 2 else ""
            if ok and bias:
                b = const_float(bias, 1)
                n = w.shape[0] if attr(node, "transB", 0) else w.shape[1]
                ok = b is not None and b.shape[0] == n and attr(node, "beta", 1.0) == 1.0
            if not ok:
                stats["Gemm kept fp32"] += 1
                continue
            qn, sn = weight_inputs(node.input[1], bool(attr(node, "transB", 0)))
            replacement[id(node)] = helper.make_node(
                "DynamicQuantizeMatMul", [node.input[0], qn, sn, "", bias] if bias else [node.input[0], qn, sn],
                list(node.output), name=(node.name or node.output[0]) + "_quant", domain=MS_DOMAIN)
            stats["Gemm -> DynamicQuantizeMatMul"] += 1

    nodes = [replacement.get(id(n), n) for n in graph.node if id(n) not in removed]
    del graph.node[:]
    graph.node.extend(nodes)
    if attention:
        quantize_activation_matmuls(graph, inits, stats)
    if convs:
        default_opset = next((op for op in model.opset_import if op.domain in ("", "ai.onnx")), None)
        if default_opset is None or default_opset.version < 11:
            sys.exit("--conv needs opset 11 or later (DynamicQuantizeLinear)")
        quantize_convs(graph, inits, per_channel, min_elements, stats, qmax)

    # Drop float weights nothing uses any more, add the int8 ones.
    used = {name for n in graph.node for name in n.input} | {o.name for o in graph.output}
    keep = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep + new_inits)
    used_vi = [v for v in graph.value_info if v.name in used or v.name in {o for n in graph.node for o in n.output}]
    del graph.value_info[:]
    graph.value_info.extend(used_vi)

    if not any(op.domain == MS_DOMAIN for op in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))

    os.makedirs(os.path.dirname(os.path.abspath(dst_path)), exist_ok=True)
    onnx.save(model, dst_path)
    return stats


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("src", help="model directory (model.onnx or onnx/model.onnx, config.json, preprocessor_config.json)")
    p.add_argument("dst", nargs="?", help="output directory (default: SRC)")
    p.add_argument("--per-tensor", action="store_true", help="one weight scale per tensor instead of per output column")
    p.add_argument("--min-elements", type=int, default=256, help="smallest weight quantized (default 256)")
    p.add_argument("--keep-bias-add", action="store_true", help="do not fold a following bias Add into the op")
    p.add_argument("--conv", action="store_true", help="also quantize Convs (ConvInteger); for convolutional models")
    p.add_argument("--attention", action="store_true", help="also quantize MatMuls of two activations (dynamic, both sides)")
    p.add_argument("--weight-max", type=int, default=64,
                   help="weights in [-N, N] (default 64: 7 bits, no vpmaddubsw saturation without VNNI; 127 = full range)")
    args = p.parse_args()

    dst = args.dst or args.src
    src_model = find_model(args.src)
    out = os.path.join(dst, "onnx", "model_quantized.onnx")
    stats = quantize(src_model, out, per_channel=not args.per_tensor, min_elements=args.min_elements,
                     fold_bias=not args.keep_bias_add, convs=args.conv, qmax=args.weight_max, attention=args.attention)
    for name in ("config.json", "preprocessor_config.json"):
        s, d = os.path.join(args.src, name), os.path.join(dst, name)
        if os.path.isfile(s) and os.path.abspath(s) != os.path.abspath(d):
            shutil.copyfile(s, d)
    for k, v in sorted(stats.items()):
        print(f"  {k}: {v}")
    print(f"wrote {out} ({os.path.getsize(out) / 1e6:.1f} MB, from {os.path.getsize(src_model) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
