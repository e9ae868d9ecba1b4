using Mediator;

namespace ImageRetrieval.Embedding.Contracts;

/// <summary>
/// Waits until the model the host loads in the background at start-up is ready, then answers its identity;
/// throws the load's failure if it failed. Unlike <see cref="GetEmbeddingModel"/>, which answers 503 at
/// once while loading, this is for callers (the command-line verbs) that have nothing to do until then.
/// </summary>
public sealed record WaitForModel : IRequest<EmbeddingModelInfo>;
