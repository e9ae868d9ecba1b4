using System.ComponentModel.DataAnnotations;

namespace ImageRetrieval.Infrastructure.Onnx;

/// <summary>Where the embedding model comes from: <c>ImageRetrieval:Embedding</c>.</summary>
public sealed class ModelSourceOptions
{
    /// <summary>A local directory in the Hugging Face ONNX layout, or a hub repo id such as <c>onnx-community/dinov2-small</c>.</summary>
    [Required]
    public string Model { get; set; } = "onnx-community/dinov2-small";

    /// <summary>Branch, tag or commit of a hub repo.</summary>
    [Required]
    public string Revision { get; set; } = "main";

    /// <summary>Use <c>onnx/model_quantized.onnx</c> (int8) instead of <c>model.onnx</c>.</summary>
    public bool Quantized { get; set; }

    /// <summary>Where hub downloads are kept; defaults to <c>models</c> under the data directory.</summary>
    public string? CacheDirectory { get; set; }

    /// <summary>The hub's base URL; <c>HF_ENDPOINT</c> when set, else https://huggingface.co.</summary>
    [Url]
    public string HubEndpoint { get; set; } = Environment.GetEnvironmentVariable("HF_ENDPOINT") is { Length: > 0 } endpoint
        ? endpoint
        : "https://huggingface.co";

    /// <summary>Bearer token for gated or private repos; <c>HF_TOKEN</c> when set.</summary>
    public string? HubToken { get; set; } = Environment.GetEnvironmentVariable("HF_TOKEN");

    /// <summary>A hub download that receives no bytes for this long is dropped and resumed (with a Range request).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan DownloadStallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Intra-op threads for inference; 0 uses every core.</summary>
    [Range(0, 256)]
    public int IntraOpThreads { get; set; }

    /// <summary>
    /// How long an idle intra-op thread busy-waits for the next parallel section before it sleeps, in
    /// microseconds: 0 sleeps at once, -1 is ONNX Runtime's own unbounded spinning. Bounded, so a run's
    /// threads need not wake at each of its several hundred parallel sections, yet sleep between runs and
    /// leave the cores to decoding; on the development VM the effect was within run-to-run noise
    /// (bench/results/service/spin-ab.md).
    /// </summary>
    [Range(-1, 100_000)]
    public int IntraOpSpinMicroseconds { get; set; } = 1000;
}
