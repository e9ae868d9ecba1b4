using System.Reflection;
using FluentValidation;
using FluentValidation.Results;
using Microsoft.AspNetCore.Http.Metadata;

namespace ImageRetrieval.Host.Api;

/// <summary>
/// A query or form field that an endpoint binds to one value, sent more than once, is a 400 naming it. The binder
/// joins repeated values with commas: two <c>text</c> fields became a search for "a,b", two <c>metadata</c> objects a
/// complaint about invalid JSON, two <c>cursor</c>s one the service never returned; a second search <c>file</c> was dropped.
/// </summary>
internal static class SingleValuedParameters
{
    public static TBuilder RequireSingleValues<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilterFactory((factory, next) =>
        {
            var fields = factory.MethodInfo.GetParameters().Select(Field).OfType<SingleField>().ToArray();
            if (fields.Length == 0)
            {
                return next;
            }

            return async context =>
            {
                var request = context.HttpContext.Request;
                // Binding has read the form by now for an endpoint that takes one; this only looks at it.
                var form = request.HasFormContentType && fields.Any(f => f.FromForm) ? await request.ReadFormAsync(context.HttpContext.RequestAborted) : null;
                var failures = new List<ValidationFailure>();
                foreach (var field in fields)
                {
                    var count = field.FromForm
                        ? (form?[field.Name].Count ?? 0) + (form?.Files.GetFiles(field.Name).Count ?? 0)
                        : request.RouteValues.ContainsKey(field.Name) ? 0 : request.Query[field.Name].Count;
                    if (count > 1)
                    {
                        failures.Add(new ValidationFailure(field.Name, $"'{field.Name}' was sent {count} times; send it once."));
                    }
                }

                return failures.Count > 0 ? throw new ValidationException(failures) : await next(context);
            };
        });

    /// <summary>The name a parameter is bound from when it takes one value from the query or the form, else null.</summary>
    private static SingleField? Field(ParameterInfo parameter)
    {
        var attributes = parameter.GetCustomAttributes(inherit: true);
        if (attributes.Any(a => a is IFromServiceMetadata or IFromRouteMetadata or IFromHeaderMetadata or IFromBodyMetadata))
        {
            return null;
        }

        var type = Nullable.GetUnderlyingType(parameter.ParameterType) ?? parameter.ParameterType;
        var form = attributes.OfType<IFromFormMetadata>().FirstOrDefault();
        if (type == typeof(IFormFile))
        {
            return new SingleField(form?.Name ?? parameter.Name!, FromForm: true);
        }

        if (type != typeof(string) && !type.IsPrimitive && !type.IsEnum && type != typeof(decimal))
        {
            return null;
        }

        return form is not null
            ? new SingleField(form.Name ?? parameter.Name!, FromForm: true)
            : new SingleField(attributes.OfType<IFromQueryMetadata>().FirstOrDefault()?.Name ?? parameter.Name!, FromForm: false);
    }

    private sealed record SingleField(string Name, bool FromForm);
}
