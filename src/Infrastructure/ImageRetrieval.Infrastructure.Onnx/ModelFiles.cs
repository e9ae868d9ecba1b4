namespace ImageRetrieval.Infrastructure.Onnx;

/// <summary>
/// The files of an ONNX model export, resolved on disk: the image graph with its config and preprocessor
/// settings, and for CLIP-style models also the text graph and its tokenizer.
/// </summary>
/// <param name="TextOnnxPath">The text tower's graph, or null for an image-only model.</param>
/// <param name="TokenizerPath">tokenizer.json of the text tower (Hugging Face tokenizers format).</param>
/// <param name="Layout">Which on-disk layout the files came from; it decides how the configs are read.</param>
public sealed record ModelFiles(
    string Name,
    string OnnxPath,
    string ConfigPath,
    string PreprocessorConfigPath,
    string? TextOnnxPath = null,
    string? TokenizerPath = null,
    ModelLayout Layout = ModelLayout.HuggingFace)
{
    public const string ConfigFile = "config.json";
    public const string PreprocessorConfigFile = "preprocessor_config.json";
    public const string TokenizerFile = "tokenizer.json";

    /// <summary>Candidate ONNX paths inside a model directory or repo, in the order they are tried.</summary>
    public static IReadOnlyList<string> OnnxCandidates(bool quantized) => quantized
        ? ["onnx/model_quantized.onnx", "model_quantized.onnx"]
        : ["model.onnx", "onnx/model.onnx"];

    /// <summary>The two towers of a transformers.js CLIP export (as Xenova/clip-vit-base-patch32 on the hub).</summary>
    public static (string Vision, string Text) ClipTowers(bool quantized) => quantized
        ? ("onnx/vision_model_quantized.onnx", "onnx/text_model_quantized.onnx")
        : ("onnx/vision_model.onnx", "onnx/text_model.onnx");

    public static ModelFiles FromDirectory(string directory, string name, bool quantized)
    {
        if (!Directory.Exists(directory))
        {
            throw new ModelLoadException($"Model directory '{directory}' does not exist.");
        }

        if (File.Exists(Path.Combine(directory, "visual", "model.onnx")))
        {
            return FromImmichDirectory(directory, name, quantized);
        }

        var (vision, text) = ClipTowers(quantized);
        var isClip = File.Exists(Path.Combine(directory, vision)) || File.Exists(Path.Combine(directory, ClipTowers(!quantized).Vision));
        var onnx = isClip
            ? Path.Combine(directory, vision)
            : OnnxCandidates(quantized).Select(c => Path.Combine(directory, c)).FirstOrDefault(File.Exists)
                ?? throw new ModelLoadException(
                    $"No {(quantized ? "quantized " : "")}ONNX model in '{directory}': looked for {string.Join(", ", OnnxCandidates(quantized))}.");
        if (!File.Exists(onnx))
        {
            throw new ModelLoadException($"No {(quantized ? "quantized " : "")}vision tower in '{directory}': looked for {vision}.");
        }

        var config = Path.Combine(directory, ConfigFile);
        var preprocessor = Path.Combine(directory, PreprocessorConfigFile);
        foreach (var required in new[] { config, preprocessor })
        {
            if (!File.Exists(required))
            {
                throw new ModelLoadException($"'{required}' is missing: a model directory needs model.onnx, config.json and preprocessor_config.json.");
            }
        }

        // A vision tower alone is a working image-only model; the text tower needs its tokenizer.
        string? textPath = null, tokenizer = null;
        if (isClip && File.Exists(Path.Combine(directory, text)))
        {
            textPath = Path.Combine(directory, text);
            tokenizer = Path.Combine(directory, TokenizerFile);
            if (!File.Exists(tokenizer))
            {
                throw new ModelLoadException($"'{tokenizer}' is missing: the text tower {text} needs the tokenizer it was trained with.");
            }
        }

        return new ModelFiles(name, onnx, config, preprocessor, textPath, tokenizer);
    }

    /// <summary>
    /// Immich's layout (visual/model.onnx, visual/preprocess_cfg.json, textual/model.onnx,
    /// textual/tokenizer.json, config.json), which many self-hosters already have on disk.
    /// </summary>
    private static ModelFiles FromImmichDirectory(string directory, string name, bool quantized)
    {
        if (quantized)
        {
            throw new ModelLoadException($"'{directory}' is in Immich's layout, which has no quantized ONNX graphs; set Embedding:Quantized to false.");
        }

        var visual = Path.Combine(directory, "visual", "model.onnx");
        var preprocess = Path.Combine(directory, "visual", "preprocess_cfg.json");
        var config = Path.Combine(directory, ConfigFile);
        foreach (var required in new[] { preprocess, config })
        {
            if (!File.Exists(required))
            {
                throw new ModelLoadException($"'{required}' is missing: an Immich model directory needs visual/model.onnx, visual/preprocess_cfg.json and config.json.");
            }
        }

        string? textPath = null, tokenizer = null;
        if (File.Exists(Path.Combine(directory, "textual", "model.onnx")))
        {
            textPath = Path.Combine(directory, "textual", "model.onnx");
            tokenizer = Path.Combine(directory, "textual", TokenizerFile);
            if (!File.Exists(tokenizer))
            {
                throw new ModelLoadException($"'{tokenizer}' is missing: the text tower textual/model.onnx needs its tokenizer.");
            }
        }

        return new ModelFiles(name, visual, config, preprocess, textPath, tokenizer, ModelLayout.Immich);
    }
}

public enum ModelLayout
{
    /// <summary>Hugging Face / transformers.js: config.json, preprocessor_config.json, tokenizer.json at the root.</summary>
    HuggingFace,

    /// <summary>Immich: visual/ and textual/ folders, open_clip's preprocess_cfg.json and model config.</summary>
    Immich,
}

public sealed class ModelLoadException(string message, Exception? inner = null) : Exception(message, inner);
