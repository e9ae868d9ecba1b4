using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.AdapterTests;

/// <summary>
/// The behaviour every <see cref="IBlobStore"/> adapter must have. A provider runs it by deriving a class
/// with its fixture: <c>public sealed class GcsBlobStoreContractTests(GcsFixture f) : BlobStoreContractTests&lt;GcsFixture&gt;(f);</c>
/// </summary>
public abstract class BlobStoreContractTests<TFixture> : IClassFixture<TFixture>, IDisposable
    where TFixture : class, IBlobStoreFixture
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(2));

    protected BlobStoreContractTests(TFixture fixture)
    {
        Fixture = fixture;
    }

    protected TFixture Fixture { get; }

    protected CancellationToken Ct => _timeout.Token;

    [SkippableTheory]
    [InlineData("jpg", "image/jpeg")]
    [InlineData("png", "image/png")]
    [InlineData("webp", "image/webp")]
    public async Task Given_put_bytes_When_opened_Then_bytes_content_type_and_length_round_trip(string extension, string contentType)
    {
        var store = await NewStoreAsync();
        var key = NewKey(extension);
        var bytes = RandomBytes(70_000);

        await store.PutAsync(key, bytes, contentType, Ct);
        await using var blob = await store.OpenReadAsync(key, Ct);

        Assert.NotNull(blob);
        Assert.Equal(contentType, blob.ContentType);
        Assert.Equal(bytes.Length, blob.Length);
        Assert.Equal(bytes, await ReadAllAsync(blob.Content));
    }

    [SkippableFact]
    public async Task Given_a_missing_key_When_opened_Then_null_is_returned()
    {
        var store = await NewStoreAsync();

        Assert.Null(await store.OpenReadAsync(NewKey("jpg"), Ct));
    }

    [SkippableFact]
    public async Task Given_a_put_key_When_checked_Then_it_exists_and_another_does_not()
    {
        var store = await NewStoreAsync();
        var key = NewKey("png");
        await store.PutAsync(key, RandomBytes(10), "image/png", Ct);

        Assert.True(await store.ExistsAsync(key, Ct));
        Assert.False(await store.ExistsAsync(NewKey("png"), Ct));
    }

    [SkippableFact]
    public async Task Given_present_and_missing_keys_When_asked_which_are_missing_Then_exactly_the_missing_ones_come_back()
    {
        var store = await NewStoreAsync();
        var present = new[] { NewKey("png"), NewKey("jpg") };
        foreach (var key in present)
        {
            await store.PutAsync(key, RandomBytes(10), "image/png", Ct);
        }

        var absent = new[] { NewKey("png"), NewKey("webp") };
        var missing = await store.FindMissingAsync([.. present, .. absent, absent[0]], Ct);

        Assert.Equal(absent.Order(StringComparer.Ordinal), missing.Order(StringComparer.Ordinal));
        Assert.Empty(await store.FindMissingAsync([], Ct));
    }

    [SkippableFact]
    public async Task Given_a_key_When_deleted_Then_it_is_gone_and_deleting_again_is_fine()
    {
        var store = await NewStoreAsync();
        var key = NewKey("jpg");
        await store.PutAsync(key, RandomBytes(10), "image/jpeg", Ct);

        await store.DeleteAsync(key, Ct);
        await store.DeleteAsync(key, Ct);
        await store.DeleteAsync(NewKey("jpg", folder: "never"), Ct);

        Assert.False(await store.ExistsAsync(key, Ct));
        Assert.Null(await store.OpenReadAsync(key, Ct));
    }

    [SkippableFact]
    public async Task Given_keys_under_several_prefixes_When_listed_by_prefix_Then_exactly_the_matching_keys_come_back()
    {
        var store = await NewStoreAsync();
        string[] images = ["images/aa11.jpg", "images/ab22.png", "images/b333.webp"];
        string[] others = ["thumbs/aa11.jpg", "imagesx/c.jpg"];
        foreach (var key in images.Concat(others))
        {
            await store.PutAsync(key, RandomBytes(3), "application/octet-stream", Ct);
        }

        Assert.Equal(images, await ListAsync(store, "images/"));
        Assert.Equal(["images/aa11.jpg", "images/ab22.png"], await ListAsync(store, "images/a"));
        Assert.Equal(images.Concat(others).Order(StringComparer.Ordinal), await ListAsync(store, ""));
        Assert.Empty(await ListAsync(store, "nothing/"));
    }

    [SkippableFact]
    public async Task Given_a_key_already_put_When_put_again_Then_it_succeeds_and_the_content_is_intact()
    {
        var store = await NewStoreAsync();
        var key = NewKey("jpg");
        var bytes = RandomBytes(1000);

        await store.PutAsync(key, bytes, "image/jpeg", Ct);
        await store.PutAsync(key, bytes, "image/jpeg", Ct);

        await using var blob = await store.OpenReadAsync(key, Ct);
        Assert.Equal(bytes, await ReadAllAsync(blob!.Content));
        Assert.Equal([key], await ListAsync(store, "images/"));
    }

    [SkippableFact]
    public async Task Given_a_key_When_described_Then_the_location_names_the_key()
    {
        var store = await NewStoreAsync();
        var key = NewKey("jpg");

        Assert.EndsWith(key, store.DescribeLocation(key), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Given_a_configured_store_When_checked_Then_it_is_reachable()
    {
        var store = await NewStoreAsync();

        await store.CheckReachableAsync(Ct);
    }

    public void Dispose()
    {
        _timeout.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>A store that sees only this test's keys; skips the test when the provider is unavailable.</summary>
    protected async Task<IBlobStore> NewStoreAsync()
    {
        Skip.If(Fixture.UnavailableReason is not null, Fixture.UnavailableReason);
        return await Fixture.CreateStoreAsync(Ct);
    }

    /// <summary>A content-addressed key like the service writes: <c>images/&lt;hex id&gt;.&lt;ext&gt;</c>.</summary>
    protected static string NewKey(string extension, string folder = "images") => $"{folder}/{Guid.NewGuid():N}.{extension}";

    protected static byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        Random.Shared.NextBytes(bytes);
        return bytes;
    }

    protected async Task<List<string>> ListAsync(IBlobStore store, string prefix)
    {
        var keys = new List<string>();
        await foreach (var key in store.ListKeysAsync(prefix, Ct))
        {
            keys.Add(key);
        }

        keys.Sort(StringComparer.Ordinal);
        return keys;
    }

    private async Task<byte[]> ReadAllAsync(Stream stream)
    {
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, Ct);
        return copy.ToArray();
    }
}
