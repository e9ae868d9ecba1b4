using ImageRetrieval.ModelTools.Onnx;

namespace ImageRetrieval.ModelTools;

/// <summary>The Hugging Face layout both quantizers read and write: the fp32 model in, onnx/model_quantized.onnx and the configs out.</summary>
internal static class QuantizedModelDirectory
{
    /// <summary>The fp32 model of <paramref name="source"/>: model.onnx or onnx/model.onnx.</summary>
    public static ModelProto LoadFp32(string source)
    {
        var input = new[] { "model.onnx", Path.Combine("onnx", "model.onnx") }.Select(p => Path.Combine(source, p)).FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException($"no model.onnx or onnx/model.onnx in '{source}'");
        return OnnxGraph.Load(input);
    }

    /// <summary>Writes DESTINATION/onnx/model_quantized.onnx and copies the configs beside it when the directories differ; returns the model's path.</summary>
    public static string Save(ModelProto quantized, string source, string destination)
    {
        var output = Path.Combine(destination, "onnx", "model_quantized.onnx");
        OnnxGraph.Save(quantized, output);
        foreach (var file in new[] { "config.json", "preprocessor_config.json" })
        {
            var (from, to) = (Path.Combine(source, file), Path.Combine(destination, file));
            if (File.Exists(from) && Path.GetFullPath(from) != Path.GetFullPath(to))
            {
                File.Copy(from, to, overwrite: true);
            }
        }

        return output;
    }
}
