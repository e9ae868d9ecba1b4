using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace ImageRetrieval.IntegrationTests.Support;

/// <summary>Calls of the image API that many tests make on their way to what they check.</summary>
public static class ImagesApi
{
    /// <summary>Ingests one file and returns its id; fails the test with the answer if it was not stored.</summary>
    public static async Task<string> IngestAsync(HttpClient client, string path)
    {
        using var form = Multipart.Files("files", path);
        using var response = await client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), form);
        var body = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.True(response.IsSuccessStatusCode, body?.ToJsonString());
        return body!["items"]![0]!["image"]!["id"]!.GetValue<string>();
    }
}
