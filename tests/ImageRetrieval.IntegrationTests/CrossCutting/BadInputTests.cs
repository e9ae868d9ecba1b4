using System.Net.Http.Headers;
using System.Text;

namespace ImageRetrieval.IntegrationTests.CrossCutting;

/// <summary>
/// Bad input on every public route is a 4xx RFC 9457 problem with a stable type: never a 500, never an empty
/// or plain-text body, whatever the request's Accept, charset or JSON shape.
/// </summary>
public sealed class BadInputTests(IngestedPhotos photos) : IngestedPhotosTests(photos)
{
    private static readonly Uri Query = new("/api/v1/query", UriKind.Relative);

    [Theory]
    [InlineData("GET", "/api/v1/images/0123456789abcdef0123456789abcdef/content", "image/jpeg", 404, "not-found")]
    [InlineData("GET", "/api/v1/images/0123456789abcdef0123456789abcdef", "text/html", 404, "not-found")]
    [InlineData("DELETE", "/api/v1/images/0123456789abcdef0123456789abcdef", "text/plain", 404, "not-found")]
    [InlineData("GET", "/api/v1/images?limit=abc", "image/jpeg", 400, "validation")]
    [InlineData("GET", "/api/v1/images?limit=0", "text/html", 400, "validation")]
    [InlineData("POST", "/api/v1/search", "text/html", 415, "unsupported-media-type")]
    [InlineData("PUT", "/api/v1/images", "text/html", 405, "method-not-allowed")]
    [InlineData("GET", "/api/v1/no-such-route", "text/html", 404, "not-found")]
    public async Task Given_an_accept_header_without_json_When_the_request_fails_Then_the_answer_is_still_its_problem(
        string method, string path, string accept, int status, string slug)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative));
        request.Headers.Accept.ParseAdd(accept);
        if (method == "POST")
        {
            request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        }

        using var response = await Client.SendAsync(request);

        await AssertProblemAsync(response, status, slug);
    }

    [Theory]
    [InlineData("/api/v1/query", """{"terms":[{"imageId":"x"}]}""")]
    [InlineData("/api/v1/embeddings/text", """{"texts":["a dog"]}""")]
    public async Task Given_json_in_an_unknown_charset_When_posted_Then_a_415_problem_names_the_charset(string path, string json)
    {
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(json));
        content.Headers.TryAddWithoutValidation("Content-Type", "application/json; charset=no-such-charset");

        using var response = await Client.PostAsync(new Uri(path, UriKind.Relative), content);

        var problem = await AssertProblemAsync(response, 415, "unsupported-media-type");
        Assert.Contains("no-such-charset", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_json_in_a_known_charset_other_than_utf8_When_posted_Then_it_is_read()
    {
        using var content = new ByteArrayContent(Encoding.Latin1.GetBytes($$"""{"terms":[{"imageId":"{{Photos.IdByFile.Values.First()}}"}],"topK":3}"""));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json; charset=iso-8859-1");

        using var response = await Client.PostAsync(Query, content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("""{"terms":[null]}""", "terms[0]")]
    [InlineData("""{"terms":[{"text":"x"},null]}""", "terms[1]")]
    public async Task Given_a_null_query_term_When_querying_Then_a_400_problem_names_the_term(string json, string field)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");

        using var response = await Client.PostAsync(Query, content);

        var problem = await AssertProblemAsync(response, 400, "validation");
        Assert.True(problem["errors"]!.AsObject().ContainsKey(field), problem.ToJsonString());
    }

    [Theory]
    [InlineData(1e20f)]
    [InlineData(3e38f, 3e38f)]
    [InlineData(1e-9f)]
    public async Task Given_extreme_but_finite_weights_When_querying_Then_the_results_are_those_of_weight_one(params float[] weights)
    {
        var id = Photos.IdByFile.Values.Order(StringComparer.Ordinal).First();
        var expected = await RankedIdsAsync(weights.Select(_ => new { imageId = id, weight = 1f }).ToArray());

        var actual = await RankedIdsAsync(weights.Select(w => new { imageId = id, weight = w }).ToArray());

        Assert.NotEmpty(expected);
        Assert.Equal(expected, actual);
    }

    [Theory]
    [InlineData("text", "text")]
    [InlineData("file", "file")]
    [InlineData("file+filter", "filter")]
    public async Task Given_a_search_field_sent_twice_When_searching_Then_a_400_problem_names_it(string parts, string field)
    {
        using var form = new MultipartFormDataContent();
        if (parts.StartsWith("file", StringComparison.Ordinal))
        {
            foreach (var path in Paths.PhotoFiles.Take(parts == "file" ? 2 : 1))
            {
                form.Add(Multipart.Bytes(path, await File.ReadAllBytesAsync(path)), "file", Path.GetFileName(path));
            }
        }

        foreach (var name in parts == "file" ? [] : new[] { field, field })
        {
            form.Add(new StringContent(name == "text" ? "a dog" : """{"set":"fixtures"}"""), name);
        }

        using var response = await Client.PostAsync(new Uri("/api/v1/search", UriKind.Relative), form);

        await AssertNamesFieldSentTwiceAsync(response, field);
    }

    [Fact]
    public async Task Given_metadata_sent_twice_When_ingesting_Then_a_400_problem_names_it_and_nothing_is_stored()
    {
        var before = await Client.GetFromJsonAsync<JsonObject>(new Uri("/api/v1/images?limit=500", UriKind.Relative));
        using var form = new MultipartFormDataContent();
        form.Add(Multipart.Bytes("twice.png", TestImages.Png(seed: 4141)), "files", "twice.png");
        form.Add(new StringContent("""{"a":"1"}"""), "metadata");
        form.Add(new StringContent("""{"a":"2"}"""), "metadata");

        using var response = await Client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), form);

        await AssertNamesFieldSentTwiceAsync(response, "metadata");
        var after = await Client.GetFromJsonAsync<JsonObject>(new Uri("/api/v1/images?limit=500", UriKind.Relative));
        Assert.Equal(before!["items"]!.AsArray().Count, after!["items"]!.AsArray().Count);
    }

    [Theory]
    [InlineData("/api/v1/images?cursor=a&cursor=b", "cursor")]
    [InlineData("/api/v1/images/{id}/similar?filter=%7B%7D&filter=%7B%7D", "filter")]
    public async Task Given_a_query_parameter_sent_twice_Then_a_400_problem_names_it(string path, string field)
    {
        using var response = await Client.GetAsync(new Uri(path.Replace("{id}", Photos.IdByFile.Values.First(), StringComparison.Ordinal), UriKind.Relative));

        await AssertNamesFieldSentTwiceAsync(response, field);
    }

    [Theory]
    [InlineData("/api/v1/query", """{"terms":[{"imageId":"x"}],"topK":"5"}""", "topK")]
    [InlineData("/api/v1/query", """{"terms":"x"}""", "terms")]
    [InlineData("/api/v1/query", """{"terms":[{"vector":[1,"2"]}]}""", "terms[0].vector[1]")]
    [InlineData("/api/v1/query", """{"terms":[{"imageId":"x"}],"topK":1,"topK":2}""", "topK")]
    [InlineData("/api/v1/embeddings/text", """{"texts":"a dog"}""", "texts")]
    [InlineData("/api/v1/embeddings/text", """{"texts":["a"],"texts":["b"]}""", "texts")]
    public async Task Given_json_of_the_wrong_shape_When_posted_Then_a_400_problem_names_the_member(string path, string json, string field)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");

        using var response = await Client.PostAsync(new Uri(path, UriKind.Relative), content);

        var problem = await AssertProblemAsync(response, 400, "validation");
        Assert.True(problem["errors"]!.AsObject().ContainsKey(field), problem.ToJsonString());
    }

    private static async Task AssertNamesFieldSentTwiceAsync(HttpResponseMessage response, string field)
    {
        var problem = await AssertProblemAsync(response, 400, "validation");
        var errors = problem["errors"]!.AsObject();
        Assert.True(errors.ContainsKey(field), problem.ToJsonString());
        Assert.Contains("sent 2 times", errors[field]![0]!.GetValue<string>(), StringComparison.Ordinal);
    }

    private async Task<List<string>> RankedIdsAsync(object[] terms)
    {
        using var response = await Client.PostAsJsonAsync(Query, new { terms, topK = 5 });
        var body = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body?.ToJsonString());
        return body!["results"]!.AsArray().Select(r => r!["id"]!.GetValue<string>()).ToList();
    }

    internal static async Task<JsonObject> AssertProblemAsync(HttpResponseMessage response, int status, string slug)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(text)!.AsObject();
        Assert.Equal("urn:image-retrieval:problem:" + slug, problem["type"]!.GetValue<string>());
        Assert.Equal(status, problem["status"]!.GetValue<int>());
        return problem;
    }
}
