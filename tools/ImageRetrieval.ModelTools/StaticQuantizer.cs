using System.Runtime.InteropServices;
using ImageRetrieval.ModelTools.Onnx;
using Microsoft.ML.OnnxRuntime;
using NetVips;

namespace ImageRetrieval.ModelTools;

/// <summary>
/// Static int8 quantization in ONNX Runtime's QDQ form, calibrated on a few photos: the pattern
/// DequantizeLinear -> Conv/Add -> QuantizeLinear that ORT's optimiser fuses into QLinearConv and
/// QLinearAdd (uint8 activations with fixed per-tensor scales from the calibration min/max, int8
/// weights symmetric per output channel, int32 bias). A Relu right after a Conv or an Add is folded
/// into the following QuantizeLinear (zero point 0 clips negatives, which is what the Relu did).
/// MaxPool keeps its input's scale so ORT runs it on uint8; everything else stays float.
/// Calibration is plain min/max per tensor over the given images.
/// </summary>
internal static class StaticQuantizer
{
    public sealed record Result(int Convs, int Adds, int ReluFolded, int CalibrationImages);

    /// <summary>
    /// 7-bit weights (ORT's reduce_range): on x86 without VNNI, MLAS multiplies uint8 by int8 with
    /// vpmaddubsw, whose 16-bit pair sums saturate with full-range weights. Measured on ResNet-18 on an
    /// AVX2 host: cosine to fp32 mean 0.944 with [-127,127] weights, 0.995 with [-63,63].
    /// </summary>
    private const float WeightMax = 63f;

    public static Result Quantize(ModelProto model, IReadOnlyList<float[]> calibration, int minElements = 256)
    {
        var graph = model.Graph;
        var initializers = graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        var ranges = Calibrate(model, calibration);
        var consumers = graph.Node.SelectMany(n => n.Input.Select(i => (i, n))).ToLookup(p => p.i, p => p.n, StringComparer.Ordinal);
        var outputs = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);

        // Fold each Relu that is the only reader of a Conv/Add output into that output (the quantizer clips).
        var reluFolded = 0;
        foreach (var relu in graph.Node.Where(n => n.OpType == "Relu").ToList())
        {
            var input = relu.Input[0];
            var producer = graph.Node.FirstOrDefault(n => n.Output.Contains(input));
            if (producer is { OpType: "Conv" or "Add" } && consumers[input].Count() == 1 && !outputs.Contains(input))
            {
                producer.Output[producer.Output.IndexOf(input)] = relu.Output[0];
                graph.Node.Remove(relu);
                reluFolded++;
            }
        }

        var convs = graph.Node.Where(n => n.OpType == "Conv" && ConvWeights.TryGetQuantizable(n, initializers, minElements, out _)).ToList();
        var adds = graph.Node.Where(n => n.OpType == "Add" && n.Input.All(i => !initializers.ContainsKey(i))).ToList();

        // Tensors that get a QuantizeLinear -> DequantizeLinear pair: what the quantized ops read and write.
        var quantizedTensors = convs.Select(c => c.Input[0]).Concat(convs.Select(c => c.Output[0]))
            .Concat(adds.SelectMany(a => a.Input)).Concat(adds.Select(a => a.Output[0])).ToHashSet(StringComparer.Ordinal);
        var parameters = quantizedTensors.ToDictionary(t => t, t => Parameters(ranges[t]), StringComparer.Ordinal);
        foreach (var pool in graph.Node.Where(n => n.OpType == "MaxPool" && quantizedTensors.Contains(n.Input[0]) && quantizedTensors.Contains(n.Output[0])))
        {
            // ORT runs MaxPool on uint8 only when its input and output share scale and zero point.
            parameters[pool.Output[0]] = parameters[pool.Input[0]];
        }

        foreach (var conv in convs)
        {
            var name = string.IsNullOrEmpty(conv.Name) ? conv.Output[0] : conv.Name;
            var weight = initializers[conv.Input[1]];
            var (wq, scales) = ConvWeights.QuantizePerOutputChannel(weight, WeightMax);
            var outChannels = scales.Length;
            graph.Initializer.Add(OnnxGraph.Tensor(name + "_W_int8", [.. weight.Dims], wq));
            graph.Initializer.Add(OnnxGraph.Tensor(name + "_W_scale", [outChannels], scales));
            graph.Initializer.Add(OnnxGraph.Tensor(name + "_W_zero_point", [outChannels], new sbyte[outChannels]));
            var dequantized = new List<NodeProto>
            {
                OnnxGraph.Node("DequantizeLinear", name + "_W_dequantize", [name + "_W_int8", name + "_W_scale", name + "_W_zero_point"], [name + "_W_dq"], OnnxGraph.Int("axis", 0)),
            };
            conv.Input[1] = name + "_W_dq";
            if (conv.Input.Count > 2 && conv.Input[2].Length > 0)
            {
                // QLinearConv adds an int32 bias at scale (input scale x weight scale).
                var bias = OnnxGraph.Floats(initializers[conv.Input[2]]);
                var inputScale = parameters[conv.Input[0]].Scale;
                var bq = new int[outChannels];
                var bs = new float[outChannels];
                for (var o = 0; o < outChannels; o++)
                {
                    bs[o] = inputScale * scales[o];
                    bq[o] = (int)Math.Clamp(Math.Round(bias[o] / (double)bs[o]), int.MinValue, int.MaxValue);
                }

                graph.Initializer.Add(OnnxGraph.Tensor(name + "_B_int32", [outChannels], bq));
                graph.Initializer.Add(OnnxGraph.Tensor(name + "_B_scale", [outChannels], bs));
                graph.Initializer.Add(OnnxGraph.Tensor(name + "_B_zero_point", [outChannels], new int[outChannels]));
                dequantized.Add(OnnxGraph.Node("DequantizeLinear", name + "_B_dequantize", [name + "_B_int32", name + "_B_scale", name + "_B_zero_point"], [name + "_B_dq"], OnnxGraph.Int("axis", 0)));
                conv.Input[2] = name + "_B_dq";
            }

            var at = graph.Node.IndexOf(conv);
            for (var i = dequantized.Count - 1; i >= 0; i--)
            {
                graph.Node.Insert(at, dequantized[i]);
            }
        }

        // One QuantizeLinear -> DequantizeLinear pair per quantized tensor, right after its producer;
        // every reader (and a graph output of that name) takes the dequantized copy.
        foreach (var tensor in quantizedTensors.Order(StringComparer.Ordinal))
        {
            var p = parameters[tensor];
            graph.Initializer.Add(OnnxGraph.Tensor(tensor + "_scale", [], [p.Scale]));
            graph.Initializer.Add(OnnxGraph.Tensor(tensor + "_zero_point", [], (ReadOnlySpan<byte>)[p.ZeroPoint]));
            var readers = graph.Node.Where(n => n.Input.Contains(tensor)).ToList();
            foreach (var reader in readers)
            {
                for (var i = 0; i < reader.Input.Count; i++)
                {
                    if (reader.Input[i] == tensor)
                    {
                        reader.Input[i] = tensor + "_dq";
                    }
                }
            }

            var producer = graph.Node.FirstOrDefault(n => n.Output.Contains(tensor));
            var at = producer is null ? 0 : graph.Node.IndexOf(producer) + 1;
            graph.Node.Insert(at, OnnxGraph.Node("DequantizeLinear", tensor + "_dequantize", [tensor + "_u8", tensor + "_scale", tensor + "_zero_point"], [tensor + "_dq"]));
            graph.Node.Insert(at, OnnxGraph.Node("QuantizeLinear", tensor + "_quantize", [tensor, tensor + "_scale", tensor + "_zero_point"], [tensor + "_u8"]));
        }

        OnnxGraph.PruneInitializers(graph);
        return new Result(convs.Count, adds.Count, reluFolded, calibration.Count);
    }

    public const int DefaultCalibrationImages = 10;

    /// <summary>onnx/model_quantized.onnx beside a model directory's fp32 model, calibrated on photos of <paramref name="photos"/>.</summary>
    public static (string Path, Result Result) QuantizeDirectory(string source, string photos, string? destination = null, int images = DefaultCalibrationImages)
    {
        var model = QuantizedModelDirectory.LoadFp32(source);
        var result = Quantize(model, CalibrationImages(photos, images));
        model.DocString += $" int8: static QDQ ({result.Convs} Convs, {result.Adds} Adds; uint8 activations calibrated min/max on {result.CalibrationImages} photos, 7-bit int8 weights per output channel).";
        var output = QuantizedModelDirectory.Save(model, source, destination ?? source);
        return (output, result);
    }

    /// <summary>uint8, asymmetric, the range widened to include 0 so that zero is exact.</summary>
    private static (float Scale, byte ZeroPoint) Parameters((float Min, float Max) range)
    {
        var (lo, hi) = (Math.Min(range.Min, 0f), Math.Max(range.Max, 0f));
        var scale = Math.Max(hi - lo, 1e-8f) / 255f;
        var zeroPoint = (byte)Math.Clamp(Math.Round(-lo / scale), 0, 255);
        return (scale, zeroPoint);
    }

    /// <summary>Min and max of every float tensor the graph computes, over the calibration images.</summary>
    private static Dictionary<string, (float Min, float Max)> Calibrate(ModelProto model, IReadOnlyList<float[]> calibration)
    {
        var probe = model.Clone();
        var known = probe.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var output in probe.Graph.Node.SelectMany(n => n.Output).Where(o => !known.Contains(o)))
        {
            probe.Graph.Output.Add(new ValueInfoProto
            {
                Name = output,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
            });
        }

        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(probe), options);
        var input = probe.Graph.Input.Single(i => !probe.Graph.Initializer.Any(t => t.Name == i.Name)).Name;
        var names = session.OutputMetadata.Where(o => o.Value.ElementDataType == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float).Select(o => o.Key).ToList();
        var ranges = names.ToDictionary(n => n, _ => (Min: float.PositiveInfinity, Max: float.NegativeInfinity), StringComparer.Ordinal);
        foreach (var pixels in calibration)
        {
            using var value = OrtValue.CreateTensorValueFromMemory(pixels, [1, 3, 224, 224]);
            using var results = session.Run(new RunOptions(), [input], [value], names);
            for (var i = 0; i < names.Count; i++)
            {
                var data = results[i].GetTensorDataAsSpan<float>();
                var (min, max) = ranges[names[i]];
                foreach (var v in data)
                {
                    min = Math.Min(min, v);
                    max = Math.Max(max, v);
                }

                ranges[names[i]] = (min, max);
            }
        }

        return ranges;
    }

    /// <summary>
    /// Calibration pixels in the layout's input convention (RGB 0-1, 224x224): libvips shrinks each
    /// photo to cover 224x224 and crops the centre. Ranges barely depend on the exact resampler.
    /// </summary>
    public static List<float[]> CalibrationImages(string directory, int count)
    {
        var files = Directory.EnumerateFiles(directory).Where(f => f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal).ToList();
        var step = Math.Max(1, files.Count / Math.Max(1, count));
        var images = new List<float[]>();
        for (var i = 0; i < files.Count && images.Count < count; i += step)
        {
            using var thumb = Image.Thumbnail(files[i], 224, height: 224, crop: Enums.Interesting.Centre);
            using var srgb = thumb.Colourspace(Enums.Interpretation.Srgb);
            using var flat = srgb.HasAlpha() ? srgb.Flatten(background: [255]) : srgb.Copy();
            using var rgb = flat.Bands > 3 ? flat.ExtractBand(0, 3) : flat.Copy();
            using var bytes = rgb.Cast(Enums.BandFormat.Uchar);
            var hwc = bytes.WriteToMemory<byte>();
            var (w, h) = (bytes.Width, bytes.Height);
            var chw = new float[3 * 224 * 224];
            for (var y = 0; y < Math.Min(h, 224); y++)
            {
                for (var x = 0; x < Math.Min(w, 224); x++)
                {
                    for (var c = 0; c < 3; c++)
                    {
                        chw[c * 224 * 224 + y * 224 + x] = hwc[(y * w + x) * 3 + c] / 255f;
                    }
                }
            }

            images.Add(chw);
        }

        return images.Count > 0 ? images : throw new FileNotFoundException($"no .jpg or .png photos to calibrate on in '{directory}'");
    }
}
