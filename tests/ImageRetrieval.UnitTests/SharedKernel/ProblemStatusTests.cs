using System.Reflection;
using ImageRetrieval.SharedKernel;
using ImageRetrieval.SharedKernel.Web;

namespace ImageRetrieval.UnitTests.SharedKernel;

public sealed class ProblemStatusTests
{
    public static TheoryData<string> Slugs()
    {
        var slugs = new TheoryData<string>();
        foreach (var field in typeof(ProblemTypes).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral && f.Name != nameof(ProblemTypes.Prefix)))
        {
            slugs.Add((string)field.GetRawConstantValue()!);
        }

        return slugs;
    }

    [Theory]
    [MemberData(nameof(Slugs))]
    public void Given_a_slug_the_service_answers_with_Then_the_table_gives_it_a_status(string slug) => Assert.True(ProblemStatus.IsKnown(slug), slug);

    [Fact]
    public void Given_image_refusals_Then_their_statuses_are_the_ones_the_api_documents()
    {
        Assert.Equal(413, ProblemStatus.Of(ProblemTypes.FileTooLarge));
        Assert.Equal(415, ProblemStatus.Of(ProblemTypes.UnsupportedMediaType));
        Assert.Equal(422, ProblemStatus.Of(ProblemTypes.UndecodableImage));
        Assert.Equal(422, ProblemStatus.Of(ProblemTypes.ImageTooLarge));
        Assert.Equal(500, ProblemStatus.Of("no-such-slug"));
    }

    [Fact]
    public void Given_a_problem_Then_its_body_carries_the_urn_type_status_title_detail_and_extensions()
    {
        var details = Problem.InvalidField("filter", "filter must be a JSON object.").ToProblemDetails();
        Assert.Equal("urn:image-retrieval:problem:validation", details.Type);
        Assert.Equal(400, details.Status);
        Assert.Equal("The request is invalid", details.Title);
        Assert.Equal("filter must be a JSON object.", details.Detail);
        var errors = Assert.IsType<Dictionary<string, string[]>>(details.Extensions["errors"]);
        Assert.Equal(["filter must be a JSON object."], errors["filter"]);
    }
}
