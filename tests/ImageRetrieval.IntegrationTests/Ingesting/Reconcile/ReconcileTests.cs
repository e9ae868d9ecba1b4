using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Contracts;
using ImageRetrieval.SharedKernel;
using ImageRetrieval.SharedKernel.Web;
using Mediator;
using Microsoft.Extensions.DependencyInjection;

namespace ImageRetrieval.IntegrationTests.Ingesting.Reconcile;

/// <summary>The reconcile verb through the same mediator request the CLI sends.</summary>
public sealed class ReconcileTests
{
    [Fact]
    public async Task Given_a_blob_without_a_vector_When_reconciled_Then_only_the_orphan_is_removed()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.CreateReadyClientAsync();
        var id = await ImagesApi.IngestAsync(client, Paths.PhotoFiles[0]);
        var orphan = Path.Combine(factory.DataPath, "blobs", "images", "0123456789abcdef0123456789abcdef.jpg");
        await File.WriteAllBytesAsync(orphan, await File.ReadAllBytesAsync(Paths.PhotoFiles[1]));

        var result = await factory.Services.GetRequiredService<IMediator>().Send(new ReconcileBlobs());

        Assert.Equal(2, result.BlobsScanned);
        Assert.Equal(1, result.OrphansRemoved);
        Assert.False(File.Exists(orphan));
        Assert.Equal(await File.ReadAllBytesAsync(Paths.PhotoFiles[0]), await client.GetByteArrayAsync(new Uri($"/api/v1/images/{id}/content", UriKind.Relative)));
    }

    [Fact]
    public async Task Given_an_unfinished_reindex_When_reconciling_Then_it_is_refused_and_nothing_is_deleted_until_a_reindex_finishes_it()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.CreateReadyClientAsync();
        await ImagesApi.IngestAsync(client, Paths.PhotoFiles[0]);
        var orphan = Path.Combine(factory.DataPath, "blobs", "images", "0123456789abcdef0123456789abcdef.jpg");
        await File.WriteAllBytesAsync(orphan, await File.ReadAllBytesAsync(Paths.PhotoFiles[1]));
        var mediator = factory.Services.GetRequiredService<IMediator>();
        var vectors = factory.Services.GetRequiredService<IVectorStore>();
        await vectors.OpenStagingAsync(new CollectionDescriptor("images", "some-other-model", 4), default);

        var refused = await Assert.ThrowsAsync<ServiceProblemException>(async () => await mediator.Send(new ReconcileBlobs()));

        Assert.Equal((409, "reindex-unfinished"), (refused.StatusCode, refused.Slug));
        Assert.Contains("some-other-model", refused.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(orphan));

        // A reindex on the model the collection already holds only finishes: it drops the stale staging collection.
        var finished = await mediator.Send(new ReindexImages());
        Assert.True(finished.Switched);
        Assert.Equal(0, finished.Reindexed);
        Assert.Empty(await vectors.ListInactiveAsync(default));
        Assert.Equal(1, (await mediator.Send(new ReconcileBlobs())).OrphansRemoved);
        Assert.False(File.Exists(orphan));
    }
}
