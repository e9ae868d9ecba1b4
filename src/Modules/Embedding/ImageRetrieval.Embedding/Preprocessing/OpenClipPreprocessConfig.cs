using System.Text.Json;

namespace ImageRetrieval.Embedding.Preprocessing;

/// <summary>
/// open_clip's preprocess_cfg.json (what Immich's visual/ folder holds) as the equivalent
/// Hugging Face settings: "shortest" is resize of the shortest edge then a centre crop, "squash" an
/// exact resize; both rescale by 1/255 and normalise with its mean and std.
/// </summary>
internal static class OpenClipPreprocessConfig
{
    public static PreprocessorConfig Load(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        return Parse(document.RootElement, path);
    }

    public static PreprocessorConfig Parse(JsonElement root, string source)
    {
        var (height, width) = root.TryGetProperty("size", out var size) ? size.ValueKind switch
        {
            JsonValueKind.Number => (size.GetInt32(), size.GetInt32()),
            JsonValueKind.Array when size.GetArrayLength() == 2 => (size[0].GetInt32(), size[1].GetInt32()),
            _ => throw new InvalidDataException($"{source}: size {size.GetRawText()} is neither an int nor [height, width]."),
        } : throw new InvalidDataException($"{source}: there is no size.");
        var resample = (root.TryGetProperty("interpolation", out var i) ? i.GetString() : "bicubic") switch
        {
            "bicubic" => ResampleFilter.Bicubic,
            "bilinear" => ResampleFilter.Bilinear,
            "nearest" => ResampleFilter.Nearest,
            var other => throw new InvalidDataException($"{source}: interpolation '{other}' is not bicubic, bilinear or nearest."),
        };
        var mean = Triple(root, "mean", source);
        var std = Triple(root, "std", source);
        return (root.TryGetProperty("resize_mode", out var m) ? m.GetString() : "shortest") switch
        {
            "shortest" when height == width => new PreprocessorConfig(
                ResizeMode.ShortestEdge, 0, 0, height, resample, true, height, width, true, 1f / 255f, true, mean, std),
            "squash" => new PreprocessorConfig(
                ResizeMode.Exact, height, width, 0, resample, false, 0, 0, true, 1f / 255f, true, mean, std),
            var other => throw new InvalidDataException(
                $"{source}: resize_mode '{other}' with size {height}x{width} is not supported (use 'shortest' with a square size, or 'squash')."),
        };
    }

    private static float[] Triple(JsonElement root, string name, string source) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array && value.GetArrayLength() == 3
            ? value.EnumerateArray().Select(v => v.GetSingle()).ToArray()
            : throw new InvalidDataException($"{source}: {name} must be 3 values, one per RGB channel.");
}
