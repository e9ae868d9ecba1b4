using System.Text.Json;

namespace ImageRetrieval.Embedding.Preprocessing;

/// <summary>Resampling filters by the numbers Pillow (and so preprocessor_config.json) uses.</summary>
internal enum ResampleFilter
{
    Nearest = 0,
    Lanczos = 1,
    Bilinear = 2,
    Bicubic = 3,
    Box = 4,
    Hamming = 5,
}

internal enum ResizeMode
{
    None,
    Exact,
    ShortestEdge,
}

/// <summary>
/// The image processor settings of a Hugging Face model, read from its preprocessor_config.json with
/// the same defaults and size rules as transformers' image processors.
/// </summary>
internal sealed record PreprocessorConfig(
    ResizeMode Resize,
    int ResizeHeight,
    int ResizeWidth,
    int ShortestEdge,
    ResampleFilter Resample,
    bool CenterCrop,
    int CropHeight,
    int CropWidth,
    bool DoRescale,
    float RescaleFactor,
    bool DoNormalize,
    float[] Mean,
    float[] Std)
{
    /// <summary>Height and width of the tensor the model receives.</summary>
    public (int Height, int Width) OutputSize => CenterCrop
        ? (CropHeight, CropWidth)
        : Resize == ResizeMode.Exact ? (ResizeHeight, ResizeWidth) : (0, 0);

    public static PreprocessorConfig Load(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        return Parse(document.RootElement, path);
    }

    public static PreprocessorConfig Parse(JsonElement root, string source)
    {
        var doResize = Bool(root, "do_resize", true);
        var cropSize = root.TryGetProperty("crop_size", out var crop) ? crop : default;
        var doCenterCrop = Bool(root, "do_center_crop", false);
        var resample = root.TryGetProperty("resample", out var r) && r.ValueKind == JsonValueKind.Number
            ? (ResampleFilter)r.GetInt32()
            : ResampleFilter.Bilinear;
        if (!Enum.IsDefined(resample))
        {
            throw new InvalidDataException($"{source}: resample {(int)resample} is not a Pillow filter (0-5).");
        }

        var (mode, height, width, shortest) = (ResizeMode.None, 0, 0, 0);
        if (doResize)
        {
            if (!root.TryGetProperty("size", out var size))
            {
                throw new InvalidDataException($"{source}: do_resize is true but there is no size.");
            }

            (mode, height, width, shortest) = size.ValueKind switch
            {
                // An int size means a square for ViT-style processors and the shortest edge for
                // CLIP-style ones, which are exactly those that crop afterwards.
                JsonValueKind.Number when doCenterCrop => (ResizeMode.ShortestEdge, 0, 0, size.GetInt32()),
                JsonValueKind.Number => (ResizeMode.Exact, size.GetInt32(), size.GetInt32(), 0),
                JsonValueKind.Object when size.TryGetProperty("height", out var h) && size.TryGetProperty("width", out var w)
                    => (ResizeMode.Exact, h.GetInt32(), w.GetInt32(), 0),
                JsonValueKind.Object when size.TryGetProperty("shortest_edge", out var s)
                    => (ResizeMode.ShortestEdge, 0, 0, s.GetInt32()),
                _ => throw new InvalidDataException($"{source}: size {size.GetRawText()} is not one of {{height,width}}, {{shortest_edge}} or an int."),
            };
        }

        var (cropHeight, cropWidth) = (0, 0);
        if (doCenterCrop)
        {
            (cropHeight, cropWidth) = cropSize.ValueKind switch
            {
                JsonValueKind.Number => (cropSize.GetInt32(), cropSize.GetInt32()),
                JsonValueKind.Object when cropSize.TryGetProperty("height", out var h) && cropSize.TryGetProperty("width", out var w)
                    => (h.GetInt32(), w.GetInt32()),
                _ => throw new InvalidDataException($"{source}: do_center_crop is true but crop_size is missing or malformed."),
            };
        }

        if (mode == ResizeMode.ShortestEdge && !doCenterCrop)
        {
            throw new InvalidDataException($"{source}: resizing by shortest_edge without a centre crop gives tensors of varying shape; batching needs a fixed size.");
        }

        if (!doResize && !doCenterCrop)
        {
            throw new InvalidDataException($"{source}: neither do_resize nor do_center_crop is set, so images would reach the model at their own size.");
        }

        return new PreprocessorConfig(
            mode, height, width, shortest, resample, doCenterCrop, cropHeight, cropWidth,
            Bool(root, "do_rescale", true),
            root.TryGetProperty("rescale_factor", out var factor) ? factor.GetSingle() : 1f / 255f,
            Bool(root, "do_normalize", true),
            Triple(root, "image_mean", [0.5f, 0.5f, 0.5f]),
            Triple(root, "image_std", [0.5f, 0.5f, 0.5f]));
    }

    private static bool Bool(JsonElement root, string name, bool fallback) =>
        root.TryGetProperty(name, out var value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : fallback;

    private static float[] Triple(JsonElement root, string name, float[] fallback)
    {
        if (!root.TryGetProperty(name, out var value))
        {
            return fallback;
        }

        if (value.ValueKind == JsonValueKind.Number)
        {
            return [value.GetSingle(), value.GetSingle(), value.GetSingle()];
        }

        var values = value.EnumerateArray().Select(v => v.GetSingle()).ToArray();
        return values.Length == 3 ? values : throw new InvalidDataException($"{name} must have 3 values, one per RGB channel.");
    }
}
