using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.BlobStores.Local;
using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.AdapterTests;

/// <summary>The blob contract for the Local store, plus what only a file system store has to guard: traversal and temp files.</summary>
public sealed class LocalBlobStoreContractTests(LocalBlobStoreFixture fixture) : BlobStoreContractTests<LocalBlobStoreFixture>(fixture)
{
    [Theory]
    [InlineData("../outside.jpg")]
    [InlineData("images/../../outside.jpg")]
    [InlineData("images/./a.jpg")]
    [InlineData("/etc/passwd")]
    [InlineData("images//a.jpg")]
    [InlineData("images/")]
    [InlineData("images/.hidden.jpg")]
    [InlineData("Images/A.JPG")]
    [InlineData("images\\a.jpg")]
    [InlineData("images/a b.jpg")]
    [InlineData("images/a.jpg\n")]
    [InlineData("")]
    public async Task Given_an_unsafe_key_When_used_Then_every_operation_rejects_it(string key)
    {
        var store = Fixture.CreateLocal();

        await Assert.ThrowsAsync<ArgumentException>(() => store.PutAsync(key, new byte[] { 1 }, "image/jpeg", Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => store.OpenReadAsync(key, Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => store.ExistsAsync(key, Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => store.DeleteAsync(key, Ct));
        Assert.Throws<ArgumentException>(() => store.DescribeLocation(key));
        Assert.False(File.Exists(Path.Combine(Fixture.DataPath, "outside.jpg")));
    }

    [Theory]
    [InlineData("../")]
    [InlineData("/images/")]
    [InlineData("images/../")]
    public async Task Given_an_unsafe_prefix_When_listing_Then_it_is_rejected(string prefix)
    {
        var store = Fixture.CreateLocal();

        await Assert.ThrowsAsync<ArgumentException>(() => ListAsync(store, prefix));
    }

    [Theory]
    [InlineData("a.jpg", "image/jpeg")]
    [InlineData("a.jpeg", "image/jpeg")]
    [InlineData("a.png", "image/png")]
    [InlineData("a.webp", "image/webp")]
    [InlineData("a.gif", "image/gif")]
    [InlineData("a.tif", "image/tiff")]
    [InlineData("a.tiff", "image/tiff")]
    [InlineData("a.heic", "image/heic")]
    [InlineData("a.heif", "image/heif")]
    [InlineData("a.bin", "application/octet-stream")]
    [InlineData("noextension", "application/octet-stream")]
    public void Given_a_key_When_its_content_type_is_derived_Then_the_extension_decides(string key, string expected) =>
        Assert.Equal(expected, ImageFileTypes.ContentTypeOf(key));

    [Fact]
    public async Task Given_a_put_When_done_Then_the_file_is_under_blobs_and_no_temp_file_is_left()
    {
        var store = Fixture.CreateLocal();

        await store.PutAsync("images/abc123.jpg", new byte[] { 1, 2, 3 }, "image/jpeg", Ct);

        var path = Path.Combine(store.RootPath, "images", "abc123.jpg");
        Assert.Equal([1, 2, 3], await File.ReadAllBytesAsync(path, Ct));
        Assert.Equal(["abc123.jpg"], Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));
        Assert.Equal("blobs/images/abc123.jpg", store.DescribeLocation("images/abc123.jpg"));
        Assert.Null(await store.TryGetSignedUrlAsync("images/abc123.jpg", Ct));
    }

    [Fact]
    public async Task Given_a_leftover_temp_file_When_listing_Then_it_is_skipped()
    {
        var store = Fixture.CreateLocal();
        await store.PutAsync("images/abc.png", new byte[] { 1 }, "image/png", Ct);
        await File.WriteAllBytesAsync(Path.Combine(store.RootPath, "images", ".abc.png.0123.tmp"), [9], Ct);

        Assert.Equal(["images/abc.png"], await ListAsync(store, ""));
    }

    [Fact]
    public async Task Given_an_existing_key_When_put_with_other_bytes_Then_the_first_content_is_kept()
    {
        var store = Fixture.CreateLocal();
        await store.PutAsync("images/same.jpg", new byte[] { 1 }, "image/jpeg", Ct);

        await store.PutAsync("images/same.jpg", new byte[] { 2 }, "image/jpeg", Ct);

        Assert.Equal([1], await File.ReadAllBytesAsync(Path.Combine(store.RootPath, "images", "same.jpg"), Ct));
    }

    [Fact]
    public async Task Given_concurrent_puts_of_one_key_When_they_race_Then_all_succeed_with_one_file()
    {
        var store = Fixture.CreateLocal();
        var bytes = RandomBytes(200_000);

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => store.PutAsync("images/race.jpg", bytes, "image/jpeg", Ct))));

        Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(store.RootPath, "images", "race.jpg"), Ct));
        Assert.Single(Directory.GetFiles(Path.Combine(store.RootPath, "images")));
    }
}

/// <summary>Local blob stores, each in its own directory under one temp data directory deleted on dispose.</summary>
public sealed class LocalBlobStoreFixture : IBlobStoreFixture, IDisposable
{
    public string DataPath { get; } = Path.Combine(Path.GetTempPath(), "ir-blobs-" + Guid.NewGuid().ToString("N"));

    public string? UnavailableReason => null;

    public Task<IBlobStore> CreateStoreAsync(CancellationToken cancellationToken) => Task.FromResult<IBlobStore>(CreateLocal());

    /// <summary>A store with a data directory of its own, so its listing sees only its own keys.</summary>
    internal LocalBlobStore CreateLocal() =>
        new(Options.Create(new ServiceOptions { DataPath = Path.Combine(DataPath, Guid.NewGuid().ToString("N")) }));

    public void Dispose()
    {
        if (Directory.Exists(DataPath))
        {
            Directory.Delete(DataPath, recursive: true);
        }
    }
}
