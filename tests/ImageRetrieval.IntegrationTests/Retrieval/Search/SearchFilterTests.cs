using ImageRetrieval.Embedding.Contracts;
using Mediator;
using Microsoft.Extensions.DependencyInjection;

namespace ImageRetrieval.IntegrationTests.Retrieval.Search;

/// <summary>
/// A search's filter is judged (by the catalogue's owner) before the query is embedded: a bad filter costs
/// no inference, and a request with a bad filter and a bad image is told about the filter.
/// </summary>
public sealed class SearchFilterTests
{
    private const string BadFilter = """{"a":{"$gt":1}}""";

    [Fact]
    public async Task Given_a_bad_filter_and_a_valid_image_When_searching_Then_the_filter_400_comes_back_and_nothing_is_embedded()
    {
        var embeddings = new EmbedImagesCounter();
        await using var factory = new ServiceFactory { ConfigureServices = s => s.AddSingleton<IPipelineBehavior<EmbedImages, EmbedImagesResult>>(embeddings) };
        var client = await factory.CreateReadyClientAsync();

        // The counter sees a search's embedding, so the assertion below can fail.
        using (var good = await SearchAsync(client, File.ReadAllBytes(Paths.PhotoFiles[0]), """{"set":"x"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, good.StatusCode);
            Assert.Equal(1, embeddings.Count);
        }

        using var bad = await SearchAsync(client, File.ReadAllBytes(Paths.PhotoFiles[0]), BadFilter);
        await AssertFilterProblemAsync(bad);
        Assert.Equal(1, embeddings.Count);
    }

    [Fact]
    public async Task Given_a_bad_filter_and_a_file_that_is_not_an_image_When_searching_Then_the_filter_is_reported()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.CreateReadyClientAsync();

        using var response = await SearchAsync(client, "not an image at all"u8.ToArray(), BadFilter);
        await AssertFilterProblemAsync(response);
    }

    private static async Task<HttpResponseMessage> SearchAsync(HttpClient client, byte[] image, string filter)
    {
        using var form = new MultipartFormDataContent();
        form.Add(Multipart.Bytes("q.jpg", image), "file", "q.jpg");
        form.Add(new StringContent(filter), "filter");
        return await client.PostAsync(new Uri("/api/v1/search", UriKind.Relative), form);
    }

    private static async Task AssertFilterProblemAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("urn:image-retrieval:problem:validation", problem!["type"]!.GetValue<string>());
        Assert.Equal(["filter"], problem["errors"]!.AsObject().Select(e => e.Key));
    }

    /// <summary>Counts the embedding requests that reach the Embedding module.</summary>
    private sealed class EmbedImagesCounter : IPipelineBehavior<EmbedImages, EmbedImagesResult>
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public ValueTask<EmbedImagesResult> Handle(EmbedImages message, MessageHandlerDelegate<EmbedImages, EmbedImagesResult> next, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _count);
            return next(message, cancellationToken);
        }
    }
}
