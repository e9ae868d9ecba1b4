using System.Text.Json;
using ImageRetrieval.SharedKernel;
using Mediator;

namespace ImageRetrieval.Ingesting.Contracts;

/// <summary>
/// Stores each image (blob first, then its vector: the commit point). Same bytes as a stored image
/// return that image with <c>Created = false</c> and write nothing. Bad files fail alone.
/// </summary>
public sealed record IngestImages(IReadOnlyList<ImageUpload> Images, IReadOnlyDictionary<string, JsonElement>? Metadata = null)
    : IRequest<IngestImagesResult>;

public sealed record IngestImagesResult(IReadOnlyList<IngestedImage> Items);

/// <summary>Either <see cref="Image"/> or <see cref="Error"/>, why this file was not stored, is set.</summary>
public sealed record IngestedImage(string FileName, ImageRecord? Image, bool Created, Problem? Error);

public sealed record GetImage(string Id) : IRequest<ImageRecord>;

/// <summary>
/// The catalogue's search: the stored images nearest to <paramref name="Vector"/> (cosine), best first, with
/// their records, in one call. Refused (409 model-mismatch) when the collection holds another model than
/// <paramref name="ModelId"/>/<paramref name="Dimension"/>. Never returns an image whose bytes are gone or
/// that this service did not write. <paramref name="Filter"/> is the search API's filter object (field
/// conditions on user metadata); <paramref name="ExcludeIds"/> are left out of the results.
/// </summary>
public sealed record FindNearestImages(
    ReadOnlyMemory<float> Vector,
    string ModelId,
    int Dimension,
    int TopK,
    float? MinScore = null,
    JsonElement? Filter = null,
    IReadOnlyCollection<string>? ExcludeIds = null) : IRequest<IReadOnlyList<NearestImage>>;

public sealed record NearestImage(float Score, ImageRecord Image);

/// <summary>
/// Whether <paramref name="Filter"/> is a filter the catalogue can apply (<see cref="FindNearestImages"/>'s language),
/// checked without searching, so a search refuses a bad filter before it spends an inference on its query.
/// </summary>
public sealed record CheckFilter(JsonElement? Filter) : IRequest<FilterCheck>;

/// <param name="Error">Why the filter is refused, naming what is wrong; null when it is fine.</param>
public sealed record FilterCheck(string? Error);

/// <summary>The stored vectors of those ids that exist (by id; unknown ids are absent), for searching with a stored image.</summary>
public sealed record GetImageVectors(IReadOnlyCollection<string> Ids) : IRequest<IReadOnlyDictionary<string, ReadOnlyMemory<float>>>;

public sealed record OpenImageContent(string Id) : IRequest<ImageContent>;

public sealed record ImageContent(Stream Content, string ContentType, long? Length);

public sealed record DeleteImage(string Id) : IRequest<Unit>;

public sealed record ListImages(int Limit = 50, string? Cursor = null) : IRequest<ImagePage>;

public sealed record ImagePage(IReadOnlyList<ImageRecord> Items, string? NextCursor);

/// <summary>
/// Re-embeds every stored image with the current model into a new collection beside the active one and
/// switches to it once complete; the active one keeps serving meanwhile. Re-running resumes a stopped run.
/// </summary>
public sealed record ReindexImages(IProgress<ReindexProgress>? Progress = null) : IRequest<ReindexResult>;

public sealed record ReindexProgress(int Done, int Total);

/// <param name="Reindexed">Images in the new collection embedded by this run (resumed ones not counted).</param>
/// <param name="Resumed">Images a stopped earlier run had already embedded.</param>
/// <param name="MissingBlobs">Records whose bytes are gone: not carried over.</param>
/// <param name="Failed">Images that did not embed; the switch does not happen while any fail.</param>
/// <param name="Foreign">Records not written by this service (no bytes of ours to re-embed): not carried over.</param>
/// <param name="CarriedOver">Images written to the old collection after the switch by replicas that had not yet noticed it.</param>
/// <param name="Switched">Whether the collection now holds the current model.</param>
public sealed record ReindexResult(
    string ModelId, int Reindexed, int MissingBlobs, int Failed, int Resumed = 0, int Foreign = 0, int CarriedOver = 0, bool Switched = false);

/// <summary>
/// Deletes blobs that have no vector: leftovers of ingests that stopped between the two writes. Refused
/// (409 reindex-unfinished) while a reindex has collections beside the active one, whose images would look orphaned.
/// </summary>
public sealed record ReconcileBlobs : IRequest<ReconcileResult>;

public sealed record ReconcileResult(int BlobsScanned, int OrphansRemoved);
