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

    /// <summary>Ingests the files eight to a request, each with <paramref name="metadata"/> if given; returns file name -> id.</summary>
    public static async Task<Dictionary<string, string>> IngestAllAsync(HttpClient client, IEnumerable<string> files, string? metadata = null)
    {
        var idByFile = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var chunk in files.Chunk(8))
        {
            using var form = Multipart.Files("files", chunk);
            if (metadata is not null)
            {
                form.Add(new StringContent(metadata), "metadata");
            }

            using var response = await client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), form);
            response.EnsureSuccessStatusCode();
            var body = await response.Content.ReadFromJsonAsync<JsonObject>();
            foreach (var item in body!["items"]!.AsArray())
            {
                idByFile[item!["fileName"]!.GetValue<string>()] = item["image"]!["id"]!.GetValue<string>();
            }
        }

        return idByFile;
    }
}
