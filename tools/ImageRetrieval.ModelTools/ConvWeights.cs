using ImageRetrieval.ModelTools.Onnx;

namespace ImageRetrieval.ModelTools;

/// <summary>
/// What both int8 quantizers do to a Conv's weight: which Convs qualify, and the symmetric per-output-channel
/// int8 packing (zero point 0, one scale per output channel).
/// </summary>
internal static class ConvWeights
{
    /// <summary>A Conv whose weight is a constant float initializer of at least <paramref name="minElements"/> values.</summary>
    public static bool TryGetQuantizable(NodeProto node, IReadOnlyDictionary<string, TensorProto> initializers, int minElements, out TensorProto weight) =>
        initializers.TryGetValue(node.Input[1], out weight!)
        && weight.DataType == (int)TensorProto.Types.DataType.Float
        && weight.Dims.Aggregate(1L, (a, d) => a * d) >= minElements;

    /// <summary>
    /// Each output channel's weights divided by absmax / <paramref name="max"/>, rounded half to even and
    /// clamped to [-max, max]: 127 for full-range int8, 63 for 7-bit weights.
    /// </summary>
    public static (sbyte[] Values, float[] Scales) QuantizePerOutputChannel(TensorProto weight, float max)
    {
        var w = OnnxGraph.Floats(weight);
        var outChannels = (int)weight.Dims[0];
        var perChannel = w.Length / outChannels;
        var wq = new sbyte[w.Length];
        var scales = new float[outChannels];
        for (var o = 0; o < outChannels; o++)
        {
            var row = w.AsSpan(o * perChannel, perChannel);
            var absMax = 0f;
            foreach (var v in row)
            {
                absMax = Math.Max(absMax, Math.Abs(v));
            }

            var scale = Math.Max(absMax, 1e-12f) / max;
            scales[o] = scale;
            for (var k = 0; k < perChannel; k++)
            {
                wq[o * perChannel + k] = (sbyte)Math.Clamp(MathF.Round(row[k] / scale, MidpointRounding.ToEven), -max, max);
            }
        }

        return (wq, scales);
    }
}
