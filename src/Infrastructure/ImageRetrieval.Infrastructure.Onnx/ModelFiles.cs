namespace ImageRetrieval.Infrastructure.Onnx;

/// <summary>The three files of a Hugging Face style ONNX export, resolved on disk.</summary>
public sealed record ModelFiles(string Name, string OnnxPath, string ConfigPath, string PreprocessorConfigPath)
{
    public const string ConfigFile = "config.json";
    public const string PreprocessorConfigFile = "preprocessor_config.json";

    /// <summary>Candidate ONNX paths inside a model directory or repo, in the order they are tried.</summary>
    public static IReadOnlyList<string> OnnxCandidates(bool quantized) => quantized
        ? ["onnx/model_quantized.onnx", "model_quantized.onnx"]
        : ["model.onnx", "onnx/model.onnx"];

    public static ModelFiles FromDirectory(string directory, string name, bool quantized)
    {
        if (!Directory.Exists(directory))
        {
            throw new ModelLoadException($"Model directory '{directory}' does not exist.");
        }

        var onnx = OnnxCandidates(quantized).Select(c => Path.Combine(directory, c)).FirstOrDefault(File.Exists)
            ?? throw new ModelLoadException(
                $"No {(quantized ? "quantized " : "")}ONNX model in '{directory}': looked for {string.Join(", ", OnnxCandidates(quantized))}.");
        var config = Path.Combine(directory, ConfigFile);
        var preprocessor = Path.Combine(directory, PreprocessorConfigFile);
        foreach (var required in new[] { config, preprocessor })
        {
            if (!File.Exists(required))
            {
                throw new ModelLoadException($"'{required}' is missing: a model directory needs model.onnx, config.json and preprocessor_config.json.");
            }
        }

        return new ModelFiles(name, onnx, config, preprocessor);
    }
}

public sealed class ModelLoadException(string message, Exception? inner = null) : Exception(message, inner);
