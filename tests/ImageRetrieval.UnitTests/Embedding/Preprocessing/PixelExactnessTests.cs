using System.Security.Cryptography;
using System.Text.Json;
using ImageRetrieval.Embedding.Preprocessing;
using ImageRetrieval.Tests;

namespace ImageRetrieval.UnitTests.Embedding.Preprocessing;

/// <summary>
/// Pixels, not just embeddings: SHA-256 of our decoded and resized RGB bytes against Pillow's
/// (scripts/parity/make_resize_hashes.py). The counts show how close "exact" is on the shared photos.
/// </summary>
public sealed class PixelExactnessTests
{
    [Fact]
    public void Given_the_shared_photos_Then_decoding_and_both_resizes_give_pillows_exact_bytes()
    {
        using var reference = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(RepositoryPaths.Fixtures, "parity", "pillow-resize-sha256.json")));
        var mismatches = new List<string>();
        foreach (var entry in reference.RootElement.GetProperty("decoded").EnumerateObject())
        {
            var rgb = TestDecoder.Default.Decode(File.ReadAllBytes(Path.Combine(RepositoryPaths.OriginalPhotos, entry.Name)));
            Check("decoded", entry.Name, rgb.Pixels);
            Check("bilinear_224x224", entry.Name, PillowResampler.Resize(rgb.Pixels, rgb.Width, rgb.Height, 224, 224, ResampleFilter.Bilinear));
            var (w, h) = PixelTensorWriter.ShortestEdgeSize(rgb.Width, rgb.Height, 256);
            Check("bicubic_shortest_256", entry.Name, PillowResampler.Resize(rgb.Pixels, rgb.Width, rgb.Height, w, h, ResampleFilter.Bicubic));
        }

        Assert.Empty(mismatches);

        void Check(string step, string name, ReadOnlySpan<byte> pixels)
        {
            var expected = reference.RootElement.GetProperty(step).GetProperty(name).GetString();
            if (Convert.ToHexStringLower(SHA256.HashData(pixels)) != expected)
            {
                mismatches.Add($"{step}: {name}");
            }
        }
    }

    [Fact]
    public void Given_decoded_buffers_are_reused_from_one_photo_to_the_next_Then_every_decode_still_gives_pillows_bytes()
    {
        // Decoded pixels go to pooled native blocks that keep the previous image's bytes: largest first,
        // then smallest first, so each decode lands in a block another photo filled.
        using var reference = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(RepositoryPaths.Fixtures, "parity", "pillow-resize-sha256.json")));
        var photos = reference.RootElement.GetProperty("decoded").EnumerateObject()
            .Select(e => (e.Name, Hash: e.Value.GetString(), Bytes: File.ReadAllBytes(Path.Combine(RepositoryPaths.OriginalPhotos, e.Name))))
            .OrderByDescending(p => p.Bytes.Length)
            .ToList();
        Assert.True(photos.Count >= 10);
        var mismatches = new List<string>();
        foreach (var (name, hash, bytes) in photos.Concat(Enumerable.Reverse(photos)))
        {
            using var rgb = TestDecoder.Default.Decode(bytes);
            if (Convert.ToHexStringLower(SHA256.HashData(rgb.Pixels)) != hash)
            {
                mismatches.Add(name);
            }
        }

        Assert.Empty(mismatches);
    }
}
