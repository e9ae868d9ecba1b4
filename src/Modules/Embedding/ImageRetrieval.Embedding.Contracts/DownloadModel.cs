using Mediator;

namespace ImageRetrieval.Embedding.Contracts;

/// <summary>
/// Fetches (if the cache lacks it) and verifies the configured model by loading it once, then lets it go:
/// an operator pre-pulls the model so a service start does not wait for the download. Throws what
/// loading throws (<c>ModelLoadException</c>, <see cref="IOException"/>, ...).
/// </summary>
public sealed record DownloadModel : IRequest<EmbeddingModelInfo>;
