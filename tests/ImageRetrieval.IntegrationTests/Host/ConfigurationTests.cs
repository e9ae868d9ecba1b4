using Microsoft.Extensions.Options;

namespace ImageRetrieval.IntegrationTests.Host;

public sealed class ConfigurationTests
{
    [Theory]
    [InlineData("ImageRetrieval:Embedding:MaxBatchSize", "0", "MaxBatchSize")]
    [InlineData("ImageRetrieval:VectorStore:Collection", "Not_Valid", "Collection")]
    [InlineData("ImageRetrieval:Limits:MaxPixels", "-1", "MaxPixels")]
    [InlineData("ImageRetrieval:Limits:MaxDecodedBytes", "0", "MaxDecodedBytes")]
    [InlineData("ImageRetrieval:Limits:MaxAspectRatio", "0", "MaxAspectRatio")]
    [InlineData("ImageRetrieval:Embedding:MaxQueueLength", "0", "MaxQueueLength")]
    [InlineData("ImageRetrieval:Embedding:DecodeParallelism", "0", "DecodeParallelism")]
    [InlineData("ImageRetrieval:PublicBaseUrl", "not a url", "PublicBaseUrl")]
    [InlineData("ImageRetrieval:Server:FormMemoryBufferBytes", "-1", "FormMemoryBufferBytes")]
    public async Task Given_an_invalid_setting_When_the_service_starts_Then_it_refuses_naming_the_setting(string key, string value, string named)
    {
        await using var factory = new ServiceFactory(overrides: new Dictionary<string, string?> { [key] = value });
        var error = Assert.ThrowsAny<OptionsValidationException>(() => factory.CreateClient());
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }
}
