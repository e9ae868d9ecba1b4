using ImageRetrieval.Embedding.Preprocessing;
using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.UnitTests.Embedding;

/// <summary>The decoder with the service's default limits, for the tests that decode the fixture photos.</summary>
internal static class TestDecoder
{
    public static ImageDecoder Default { get; } = new(Options.Create(new ImageLimitsOptions()));
}
