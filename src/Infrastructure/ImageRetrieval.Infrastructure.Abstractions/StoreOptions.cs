using System.ComponentModel.DataAnnotations;

namespace ImageRetrieval.Infrastructure.Abstractions;

public enum VectorStoreProvider
{
    Local,
    Qdrant,
    Pinecone,
}

public sealed class VectorStoreOptions
{
    public const string Section = "ImageRetrieval:VectorStore";

    public VectorStoreProvider Provider { get; set; } = VectorStoreProvider.Local;

    [Required]
    [RegularExpression("^(?!.*--)[a-z0-9][a-z0-9-]{0,44}$", ErrorMessage = "Collection must be lowercase letters, digits and single '-' (at most 45), as Pinecone index names require; '--' is kept for the collections a reindex builds.")]
    public string Collection { get; set; } = "images";

    /// <summary>Pinecone namespace; Qdrant and Local ignore it.</summary>
    public string Namespace { get; set; } = "";

    /// <summary>
    /// How long a replica trusts that the collection holds its model before reading the collection's
    /// pointer again: after a reindex elsewhere switches it, writes and searches are refused (409) within
    /// this. A reindex waits twice this long after its switch before carrying over late writes.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan ModelCheckInterval { get; set; } = TimeSpan.FromSeconds(5);
}

public enum BlobStoreProvider
{
    Local,
    Gcs,
}

public sealed class BlobStoreOptions
{
    public const string Section = "ImageRetrieval:BlobStore";

    public BlobStoreProvider Provider { get; set; } = BlobStoreProvider.Local;
}
