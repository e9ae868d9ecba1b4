using System.Runtime.InteropServices;
using Google.Protobuf;

namespace ImageRetrieval.ModelTools.Onnx;

/// <summary>Small helpers over the generated ONNX messages: tensors to and from arrays, nodes, attributes.</summary>
internal static class OnnxGraph
{
    public static ModelProto Load(string path)
    {
        using var stream = File.OpenRead(path);
        return ModelProto.Parser.ParseFrom(stream);
    }

    /// <summary>Writes to a temporary file first so a crash never leaves a half-written model behind.</summary>
    public static void Save(ModelProto model, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temporary = path + ".tmp";
        using (var stream = File.Create(temporary))
        {
            model.WriteTo(stream);
        }

        File.Move(temporary, path, overwrite: true);
    }

    public static float[] Floats(TensorProto tensor)
    {
        if (tensor.DataType != (int)TensorProto.Types.DataType.Float)
        {
            throw new InvalidDataException($"tensor '{tensor.Name}' is of ONNX type {tensor.DataType}, not float");
        }

        return tensor.HasRawData
            ? MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray()
            : [.. tensor.FloatData];
    }

    public static TensorProto Tensor(string name, ReadOnlySpan<long> dims, ReadOnlySpan<float> values) =>
        Raw(name, dims, TensorProto.Types.DataType.Float, MemoryMarshal.AsBytes(values));

    public static TensorProto Tensor(string name, ReadOnlySpan<long> dims, ReadOnlySpan<sbyte> values) =>
        Raw(name, dims, TensorProto.Types.DataType.Int8, MemoryMarshal.AsBytes(values));

    public static TensorProto Tensor(string name, ReadOnlySpan<long> dims, ReadOnlySpan<byte> values) =>
        Raw(name, dims, TensorProto.Types.DataType.Uint8, values);

    public static TensorProto Tensor(string name, ReadOnlySpan<long> dims, ReadOnlySpan<int> values) =>
        Raw(name, dims, TensorProto.Types.DataType.Int32, MemoryMarshal.AsBytes(values));

    public static TensorProto Tensor(string name, ReadOnlySpan<long> dims, ReadOnlySpan<long> values) =>
        Raw(name, dims, TensorProto.Types.DataType.Int64, MemoryMarshal.AsBytes(values));

    private static TensorProto Raw(string name, ReadOnlySpan<long> dims, TensorProto.Types.DataType type, ReadOnlySpan<byte> bytes)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(bytes) };
        foreach (var d in dims)
        {
            tensor.Dims.Add(d);
        }

        return tensor;
    }

    public static NodeProto Node(string op, string name, IEnumerable<string> inputs, IEnumerable<string> outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto? Find(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name);

    public static float FloatAttribute(NodeProto node, string name, float fallback) => Find(node, name) is { } a ? a.F : fallback;

    public static long IntAttribute(NodeProto node, string name, long fallback) => Find(node, name) is { } a ? a.I : fallback;

    /// <summary>A float tensor value with a shape whose dimensions are numbers or names (a symbolic batch).</summary>
    public static ValueInfoProto FloatValue(string name, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            shape.Dim.Add(d is string symbol ? new TensorShapeProto.Types.Dimension { DimParam = symbol } : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture) });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }

    /// <summary>Drops initializers that no node reads any more (replaced weights).</summary>
    public static void PruneInitializers(GraphProto graph)
    {
        var used = graph.Node.SelectMany(n => n.Input).Concat(graph.Output.Select(o => o.Name)).ToHashSet(StringComparer.Ordinal);
        var keep = graph.Initializer.Where(i => used.Contains(i.Name)).ToList();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(keep);
    }
}
