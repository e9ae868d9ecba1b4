using FluentValidation;

namespace ImageRetrieval.Host;

internal static class MediatorSetup
{
    public static IServiceCollection AddApplicationMediator(this IServiceCollection services)
    {
        services.AddMediator(options =>
        {
            options.ServiceLifetime = ServiceLifetime.Singleton;
            // Each module's contracts (messages) and implementation (handlers, internal and visible to the Host).
            options.Assemblies =
            [
                typeof(ImageRetrieval.Embedding.Contracts.EmbedImages), typeof(ImageRetrieval.Embedding.EmbeddingModule),
                typeof(ImageRetrieval.Ingesting.Contracts.IngestImages), typeof(ImageRetrieval.Ingesting.IngestingModule),
                typeof(ImageRetrieval.Retrieval.Contracts.SearchByImage), typeof(ImageRetrieval.Retrieval.RetrievalModule),
            ];
            options.PipelineBehaviors = [typeof(ValidationBehavior<,>)];
        });
        return services;
    }
}

/// <summary>Runs every FluentValidation validator of a request before its handler; failures become a 400 problem listing each field.</summary>
internal sealed class ValidationBehavior<TMessage, TResponse>(IEnumerable<IValidator<TMessage>> validators) : IPipelineBehavior<TMessage, TResponse>
    where TMessage : notnull, IMessage
{
    public async ValueTask<TResponse> Handle(TMessage message, MessageHandlerDelegate<TMessage, TResponse> next, CancellationToken cancellationToken)
    {
        foreach (var validator in validators)
        {
            var result = await validator.ValidateAsync(message, cancellationToken);
            if (!result.IsValid)
            {
                throw new ValidationException(result.Errors);
            }
        }

        return await next(message, cancellationToken);
    }
}
