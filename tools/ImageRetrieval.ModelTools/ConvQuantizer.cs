using ImageRetrieval.ModelTools.Onnx;

namespace ImageRetrieval.ModelTools;

/// <summary>
/// Dynamic int8 quantization of every Conv with a constant float weight, the ConvInteger form of
/// onnxruntime.quantization.quantize_dynamic: weights int8, symmetric, one scale per output channel;
/// the activation is quantized per tensor to uint8 at run time (DynamicQuantizeLinear, min/max of
/// the whole tensor); ConvInteger's int32 result is scaled back and the bias added in float.
/// Convs reading the same activation share one DynamicQuantizeLinear.
/// </summary>
internal static class ConvQuantizer
{
    public sealed record Result(int Quantized, int Kept);

    public static Result Quantize(ModelProto model, int minElements = 256)
    {
        var graph = model.Graph;
        var initializers = graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        var activations = new Dictionary<string, (string Q, string Scale, string ZeroPoint)>(StringComparer.Ordinal);
        var nodes = new List<NodeProto>();
        var (quantized, kept) = (0, 0);
        foreach (var node in graph.Node)
        {
            if (node.OpType != "Conv" || !ConvWeights.TryGetQuantizable(node, initializers, minElements, out var weight)
                || (node.Input.Count > 2 && node.Input[2].Length > 0 && !initializers.ContainsKey(node.Input[2])))
            {
                kept += node.OpType == "Conv" ? 1 : 0;
                nodes.Add(node);
                continue;
            }

            var name = string.IsNullOrEmpty(node.Name) ? node.Output[0] : node.Name;
            var x = node.Input[0];
            if (!activations.TryGetValue(x, out var q))
            {
                q = (x + "_u8", x + "_scale", x + "_zero_point");
                nodes.Add(OnnxGraph.Node("DynamicQuantizeLinear", x + "_quantize", [x], [q.Q, q.Scale, q.ZeroPoint]));
                activations[x] = q;
            }

            var (wq, scales) = ConvWeights.QuantizePerOutputChannel(weight, 127f);
            var outChannels = scales.Length;
            graph.Initializer.Add(OnnxGraph.Tensor(name + "_W_int8", [.. weight.Dims], wq));
            graph.Initializer.Add(OnnxGraph.Tensor(name + "_W_zero_point", [], (ReadOnlySpan<sbyte>)[0]));
            graph.Initializer.Add(OnnxGraph.Tensor(name + "_W_scale", [outChannels, 1, 1], scales));

            var integer = OnnxGraph.Node("ConvInteger", name + "_int8", [q.Q, name + "_W_int8", q.ZeroPoint, name + "_W_zero_point"], [name + "_int32"]);
            integer.Attribute.AddRange(node.Attribute);
            nodes.Add(integer);
            nodes.Add(OnnxGraph.Node("Cast", name + "_to_float", [name + "_int32"], [name + "_float"], OnnxGraph.Int("to", (int)TensorProto.Types.DataType.Float)));
            nodes.Add(OnnxGraph.Node("Mul", name + "_scale", [q.Scale, name + "_W_scale"], [name + "_out_scale"]));
            var hasBias = node.Input.Count > 2 && node.Input[2].Length > 0;
            nodes.Add(OnnxGraph.Node("Mul", name + "_rescale", [name + "_float", name + "_out_scale"], [hasBias ? name + "_unbiased" : node.Output[0]]));
            if (hasBias)
            {
                var bias = initializers[node.Input[2]];
                graph.Initializer.Add(OnnxGraph.Tensor(name + "_B_nchw", [outChannels, 1, 1], OnnxGraph.Floats(bias)));
                nodes.Add(OnnxGraph.Node("Add", name + "_bias", [name + "_unbiased", name + "_B_nchw"], [node.Output[0]]));
            }

            quantized++;
        }

        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        OnnxGraph.PruneInitializers(graph);
        if (model.OpsetImport.Single(o => o.Domain.Length == 0).Version < 11)
        {
            throw new InvalidOperationException("DynamicQuantizeLinear needs opset 11 or later");
        }

        return new Result(quantized, kept);
    }

    /// <summary>onnx/model_quantized.onnx beside a model directory's fp32 model.</summary>
    public static (string Path, Result Result) QuantizeDirectory(string source, string? destination = null, int minElements = 256)
    {
        var model = QuantizedModelDirectory.LoadFp32(source);
        var result = Quantize(model, minElements);
        model.DocString += $" int8: {result.Quantized} Convs as ConvInteger (int8 weights per output channel, activations per tensor at run time).";
        var output = QuantizedModelDirectory.Save(model, source, destination ?? source);
        return (output, result);
    }
}
