using ImageRetrieval.SharedKernel;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ImageRetrieval.SharedKernel.Web;

public static class Problems
{
    public static ProblemHttpResult From(ServiceProblemException ex) =>
        Create(ex.StatusCode, ex.Slug, ex.Title, ex.Message, ex.Extensions);

    public static ProblemHttpResult Create(int status, string slug, string title, string detail, IEnumerable<KeyValuePair<string, object?>>? extensions = null) =>
        TypedResults.Problem(detail: detail, statusCode: status, title: title, type: ProblemTypes.Uri(slug), extensions: extensions);
}
