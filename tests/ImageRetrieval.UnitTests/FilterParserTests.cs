using System.Text.Json;
using ImageRetrieval.Retrieval.Filters;

namespace ImageRetrieval.UnitTests;

public sealed class FilterParserTests
{
    [Fact]
    public void Given_equality_eq_and_in_conditions_Then_they_parse_into_a_conjunction()
    {
        var filter = FilterParser.Parse(Json("""{"camera":"x","year":{"$in":[2023,2024]},"ok":{"$eq":true}}"""), out var error);
        Assert.Null(error);
        Assert.Equal(3, filter!.Conditions.Count);
        Assert.True(filter.Matches(Metadata("""{"camera":"x","year":2024,"ok":true}""")));
        Assert.False(filter.Matches(Metadata("""{"camera":"x","year":2022,"ok":true}""")));
        Assert.False(filter.Matches(Metadata("""{"camera":"x","year":2024}""")));
    }

    [Fact]
    public void Given_an_array_field_Then_any_element_matches()
    {
        var filter = FilterParser.Parse(Json("""{"tags":"b"}"""), out _);
        Assert.True(filter!.Matches(Metadata("""{"tags":["a","b"]}""")));
        Assert.False(filter.Matches(Metadata("""{"tags":["a"]}""")));
    }

    [Theory]
    [InlineData("""[1]""")]
    [InlineData("""{"a":{"$gt":1}}""")]
    [InlineData("""{"a":{"$in":[]}}""")]
    [InlineData("""{"a":{"b":1}}""")]
    [InlineData("""{"$and":[{"a":1}]}""")]
    [InlineData("""{"a":null}""")]
    public void Given_an_unsupported_filter_Then_the_error_says_what_is_allowed(string json)
    {
        Assert.Null(FilterParser.Parse(Json(json), out var error));
        Assert.NotNull(error);
    }

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    private static Dictionary<string, JsonElement> Metadata(string json) =>
        Json(json).EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone());
}
