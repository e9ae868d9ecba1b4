using System.Text.Json;
using ImageRetrieval.Ingesting.FindNearestImages;
using ImageRetrieval.SharedKernel;

namespace ImageRetrieval.UnitTests.Ingesting.FindNearestImages;

public sealed class FilterParserTests
{
    [Fact]
    public void Given_equality_eq_and_in_conditions_Then_they_parse_into_a_conjunction()
    {
        var filter = FilterParser.Parse(Json("""{"camera":"x","year":{"$in":[2023,2024]},"ok":{"$eq":true}}"""), Limits, out var error);
        Assert.Null(error);
        Assert.Equal(3, filter!.Conditions.Count);
        Assert.True(filter.Matches(Metadata("""{"camera":"x","year":2024,"ok":true}""")));
        Assert.False(filter.Matches(Metadata("""{"camera":"x","year":2022,"ok":true}""")));
        Assert.False(filter.Matches(Metadata("""{"camera":"x","year":2024}""")));
    }

    [Fact]
    public void Given_an_array_field_Then_any_element_matches()
    {
        var filter = FilterParser.Parse(Json("""{"tags":"b"}"""), Limits, out _);
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
    [InlineData("""{"a":{"$in":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99,100,101]}}""")]
    [InlineData("""{"a":1,"a":2}""")]
    public void Given_an_unsupported_filter_Then_the_error_says_what_is_allowed(string json)
    {
        Assert.Null(FilterParser.Parse(Json(json), Limits, out var error));
        Assert.NotNull(error);
    }

    private static readonly ImageLimitsOptions Limits = new();

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    private static Dictionary<string, JsonElement> Metadata(string json) =>
        Json(json).EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone());
}
