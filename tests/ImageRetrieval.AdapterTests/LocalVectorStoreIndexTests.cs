using System.Text.Json;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.VectorStores.Local;

namespace ImageRetrieval.AdapterTests;

/// <summary>
/// The Local store past toy sizes: the int8 scan with fp32 re-scoring against the exact scan on
/// clustered data, filters inside the scan, and the vector file that makes reopening fast and that a
/// crash, a torn write or a stale copy must never make wrong.
/// </summary>
public sealed class LocalVectorStoreIndexTests(LocalVectorStoreFixture fixture) : IClassFixture<LocalVectorStoreFixture>
{
    private const int Dimension = 96;
    private const int Clusters = 40;
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Theory]
    [InlineData(LocalIndexKind.Quantized)]
    [InlineData(LocalIndexKind.Int4)]
    public async Task Given_clustered_vectors_When_queried_quantized_Then_recall_at_10_against_the_exact_scan_is_at_least_0_99_and_scores_are_exact(LocalIndexKind kind)
    {
        var data = Clustered(12_000, seed: 1);
        var quantized = await FilledAsync(data, new LocalVectorStoreOptions { Index = kind });
        var exact = await FilledAsync(data, new LocalVectorStoreOptions { Index = LocalIndexKind.Exact });
        Assert.True(quantized.UsesQuantizedScan);
        Assert.False(exact.UsesQuantizedScan);

        var found = 0;
        var queries = Clustered(60, seed: 2);
        foreach (var (_, query, _) in queries)
        {
            var truth = await exact.QueryAsync(new VectorQuery(query, TopK: 10), Ct);
            var hits = await quantized.QueryAsync(new VectorQuery(query, TopK: 10), Ct);
            var truthScores = truth.ToDictionary(h => h.Record.Id, h => h.Score);
            found += hits.Count(h => truthScores.ContainsKey(h.Record.Id));
            foreach (var hit in hits.Where(h => truthScores.ContainsKey(h.Record.Id)))
            {
                Assert.Equal(truthScores[hit.Record.Id], hit.Score, 1e-6f);
            }

            Assert.True(hits.Zip(hits.Skip(1)).All(p => p.First.Score >= p.Second.Score));
        }

        var recall = found / (queries.Count * 10.0);
        Assert.True(recall >= 0.99, $"recall@10 {recall:0.000}");
    }

    [Theory]
    [InlineData(LocalIndexKind.Quantized)]
    [InlineData(LocalIndexKind.Int4)]
    public async Task Given_a_selective_filter_When_queried_quantized_Then_results_are_the_exact_top_k_of_the_matching_rows(LocalIndexKind kind)
    {
        var data = Clustered(6_000, seed: 3);
        var store = await FilledAsync(data, new LocalVectorStoreOptions { Index = kind });
        Assert.True(store.UsesQuantizedScan);
        var filter = new MetadataFilter(
        [
            new FieldCondition("group", [JsonSerializer.SerializeToElement(7), JsonSerializer.SerializeToElement(11)]),
            new FieldCondition("tags", [JsonSerializer.SerializeToElement("t3")]),
        ]);

        foreach (var (_, query, _) in Clustered(20, seed: 4))
        {
            var hits = await store.QueryAsync(new VectorQuery(query, TopK: 5, Filter: filter, ExcludeIds: [data[0].Id]), Ct);

            var expected = data
                .Where(r => r.Id != data[0].Id && r.Metadata["group"].GetInt32() is 7 or 11 && r.Metadata["tags"].EnumerateArray().Any(t => t.GetString() == "t3"))
                .Select(r => (r.Id, Score: Dot(query, r.Vector)))
                .OrderByDescending(r => r.Score).ThenBy(r => r.Id, StringComparer.Ordinal).Take(5).ToList();
            Assert.Equal(5, expected.Count);
            Assert.Equal(expected.Select(e => e.Id), hits.Select(h => h.Record.Id));
            Assert.All(hits, h => Assert.Contains(h.Record.Metadata["group"].GetInt32(), new[] { 7, 11 }));
        }
    }

    [Fact]
    public async Task Given_a_closed_store_When_reopened_Then_it_loads_the_vector_file_and_answers_as_before()
    {
        var collection = NewCollection();
        var data = Clustered(3_000, seed: 5);
        var first = await FilledAsync(data, collection: collection);
        var query = Clustered(1, seed: 6)[0].Vector;
        var before = await first.QueryAsync(new VectorQuery(query, TopK: 10), Ct);
        first.Dispose();
        Assert.True(File.Exists(first.VectorFilePath));

        // The fp32 vectors stay in the segment; the file carries codes and records only (4-bit codes are an eighth of fp32).
        Assert.InRange(new FileInfo(first.VectorFilePath).Length, 1, 3_000 * Dimension * sizeof(float) / 2);

        var reopened = fixture.Open(collection);
        var after = await reopened.QueryAsync(new VectorQuery(query, TopK: 10), Ct);

        Assert.Equal("snapshot", reopened.LoadedFrom);
        Assert.Equal(3_000, await reopened.CountAsync(Ct));
        Assert.Equal(before.Select(h => (h.Record.Id, h.Score)), after.Select(h => (h.Record.Id, h.Score)));
        var fetched = Assert.Single(await reopened.FetchAsync([data[42].Id], includeVectors: true, Ct));
        Assert.Equal(data[42].Metadata["group"].GetInt32(), fetched.Metadata["group"].GetInt32());
        Assert.Equal(data[42].Vector.ToArray(), fetched.Vector.ToArray());
    }

    [Fact]
    public async Task Given_writes_after_the_last_vector_file_When_the_process_dies_Then_reopening_replays_them_from_sqlite()
    {
        var collection = NewCollection();
        var data = Clustered(2_500, seed: 7);
        var first = await FilledAsync(data, collection: collection);
        first.Dispose();
        var second = fixture.Open(collection);
        var extra = Clustered(30, seed: 8).Select((r, i) => r with { Id = $"late-{i:D2}" }).ToList();
        await second.UpsertAsync(extra, Ct);
        await second.DeleteAsync([data[0].Id, data[1].Id, "late-00"], Ct);
        await second.UpsertAsync([data[5] with { Metadata = Meta(("group", 999), ("tags", new[] { "moved" })) }], Ct);

        // No Dispose: the second store dies as after kill -9, its changes only in SQLite.
        var third = fixture.Open(collection);

        Assert.Equal(2_500 + 30 - 3, await third.CountAsync(Ct));
        Assert.Equal("snapshot+replay", third.LoadedFrom);
        Assert.Empty(await third.FetchAsync([data[0].Id, data[1].Id, "late-00"], includeVectors: false, Ct));
        Assert.Equal(999, Assert.Single(await third.FetchAsync([data[5].Id], includeVectors: false, Ct)).Metadata["group"].GetInt32());
        var top = await third.QueryAsync(new VectorQuery(extra[7].Vector, TopK: 1), Ct);
        Assert.Equal("late-07", top[0].Record.Id);
        var moved = await third.QueryAsync(new VectorQuery(data[5].Vector, TopK: 1, Filter: new MetadataFilter([new FieldCondition("tags", [JsonSerializer.SerializeToElement("moved")])])), Ct);
        Assert.Equal(data[5].Id, Assert.Single(moved).Record.Id);
    }

    [Theory]
    [InlineData("flipped byte")]
    [InlineData("truncated")]
    [InlineData("garbage")]
    [InlineData("flipped code")]
    [InlineData("flipped record")]
    public async Task Given_a_damaged_vector_file_When_reopened_Then_it_is_detected_and_memory_is_rebuilt_from_sqlite(string damage)
    {
        var collection = NewCollection();
        var data = Clustered(2_200, seed: 9);
        var first = await FilledAsync(data, collection: collection);
        first.Dispose();
        var path = first.VectorFilePath;
        var bytes = await File.ReadAllBytesAsync(path, Ct);
        switch (damage)
        {
            case "flipped byte":
                bytes[bytes.Length / 2] ^= 0x40;
                await File.WriteAllBytesAsync(path, bytes, Ct);
                break;
            case "flipped code":
                // Past the header and the code parameters (at most two floats a dimension): the codes section a quantized writer adds.
                bytes[4096 + (2 * Dimension * sizeof(float)) + 1_000] ^= 0x01;
                await File.WriteAllBytesAsync(path, bytes, Ct);
                break;
            case "flipped record":
                bytes[^40] ^= 0x01;
                await File.WriteAllBytesAsync(path, bytes, Ct);
                break;
            case "truncated":
                await File.WriteAllBytesAsync(path, bytes[..(bytes.Length - 100)], Ct);
                break;
            default:
                await File.WriteAllBytesAsync(path, new byte[8192], Ct);
                break;
        }

        var reopened = fixture.Open(collection);

        Assert.Equal(2_200, await reopened.CountAsync(Ct));
        Assert.StartsWith("rebuild:", reopened.LoadedFrom, StringComparison.Ordinal);
        var hit = (await reopened.QueryAsync(new VectorQuery(data[100].Vector, TopK: 1), Ct))[0];
        Assert.Equal(data[100].Id, hit.Record.Id);
        Assert.Equal(1f, hit.Score, 1e-5f);

        // The rebuild wrote a good file again.
        var again = fixture.Open(collection);
        Assert.Equal(2_200, await again.CountAsync(Ct));
        Assert.Equal("snapshot", again.LoadedFrom);
    }

    [Theory]
    [InlineData(LocalIndexKind.Quantized, LocalIndexKind.Exact)]
    [InlineData(LocalIndexKind.Exact, LocalIndexKind.Quantized)]
    [InlineData(LocalIndexKind.Quantized, LocalIndexKind.Quantized)]
    [InlineData(LocalIndexKind.Int4, LocalIndexKind.Int4)]
    [InlineData(LocalIndexKind.Quantized, LocalIndexKind.Int4)]
    [InlineData(LocalIndexKind.Int4, LocalIndexKind.Quantized)]
    [InlineData(LocalIndexKind.Int4, LocalIndexKind.Exact)]
    public async Task Given_a_vector_file_written_by_one_index_kind_When_reopened_with_another_Then_it_loads_and_answers_as_the_kind_asked_for(LocalIndexKind written, LocalIndexKind reopenedAs)
    {
        var collection = NewCollection();
        var data = Clustered(3_000, seed: 21);
        var first = await FilledAsync(data, new LocalVectorStoreOptions { Index = written }, collection);
        var query = Clustered(1, seed: 22)[0].Vector;
        var before = await first.QueryAsync(new VectorQuery(query, TopK: 10), Ct);
        first.Dispose();

        var reopened = fixture.Open(collection, new LocalVectorStoreOptions { Index = reopenedAs });
        var after = await reopened.QueryAsync(new VectorQuery(query, TopK: 10), Ct);

        Assert.Equal("snapshot", reopened.LoadedFrom);
        Assert.Equal(reopenedAs != LocalIndexKind.Exact, reopened.UsesQuantizedScan);
        Assert.Equal(before.Select(h => h.Record.Id), after.Select(h => h.Record.Id));
        Assert.Equal(before.Select(h => h.Score), after.Select(h => h.Score));

        // Rows written after the reopen are coded with the loaded scales and found by the scan.
        var late = new VectorRecord("late", data[7].Vector, Meta(("group", 1)));
        await reopened.DeleteAsync([data[7].Id], Ct);
        await reopened.UpsertAsync([late], Ct);
        var hit = (await reopened.QueryAsync(new VectorQuery(data[7].Vector, TopK: 1), Ct))[0];
        Assert.Equal("late", hit.Record.Id);
        Assert.Equal(1f, hit.Score, 1e-5f);
    }

    [Fact]
    public async Task Given_a_large_batch_with_bad_records_When_upserted_Then_the_first_bad_record_is_reported_and_nothing_is_written()
    {
        var collection = NewCollection();
        var store = await FilledAsync([], collection: collection);
        var batch = Clustered(500, seed: 31);
        batch[400] = batch[400] with { Vector = new float[Dimension] };
        batch[120] = batch[120] with { Metadata = Meta(("nested", new { a = 1 })) };

        var error = await Assert.ThrowsAsync<ArgumentException>(() => store.UpsertAsync(batch, Ct));

        Assert.Contains(batch[120].Id, error.Message, StringComparison.Ordinal);
        Assert.Equal(0, await store.CountAsync(Ct));
        batch[120] = batch[120] with { Metadata = Meta(("group", 3)) };
        error = await Assert.ThrowsAsync<ArgumentException>(() => store.UpsertAsync(batch, Ct));
        Assert.Contains(batch[400].Id, error.Message, StringComparison.Ordinal);

        batch[400] = batch[400] with { Vector = batch[0].Vector };
        await store.UpsertAsync(batch, Ct);
        Assert.Equal(500, await store.CountAsync(Ct));
        var stored = Assert.Single(await store.FetchAsync([batch[120].Id], includeVectors: true, Ct));
        Assert.Equal(3, stored.Metadata["group"].GetInt32());
        Assert.Equal(1f, Dot(batch[120].Vector, stored.Vector), 1e-5f);
    }

    [Fact]
    public async Task Given_a_stale_vector_file_older_than_pruned_deletes_When_reopened_Then_deleted_rows_do_not_come_back()
    {
        var collection = NewCollection();
        var data = Clustered(2_100, seed: 10);
        var first = await FilledAsync(data, collection: collection);
        first.Dispose();
        var old = await File.ReadAllBytesAsync(first.VectorFilePath, Ct);

        var second = fixture.Open(collection);
        await second.DeleteAsync(data.Take(50).Select(r => r.Id).ToList(), Ct);
        second.Dispose();

        // A copy from before the deletes (restored by hand, or a rename that did not survive a crash).
        await File.WriteAllBytesAsync(first.VectorFilePath, old, Ct);
        var third = fixture.Open(collection);

        Assert.Equal(2_050, await third.CountAsync(Ct));
        Assert.StartsWith("rebuild:", third.LoadedFrom, StringComparison.Ordinal);
        Assert.Empty(await third.FetchAsync(data.Take(50).Select(r => r.Id).ToList(), includeVectors: false, Ct));
    }

    [Fact]
    public async Task Given_a_recreated_collection_When_an_old_vector_file_is_put_back_Then_it_is_ignored()
    {
        var collection = NewCollection();
        var first = await FilledAsync(Clustered(2_100, seed: 11), collection: collection);
        first.Dispose();
        var old = await File.ReadAllBytesAsync(first.VectorFilePath, Ct);
        var second = fixture.Open(collection);
        await second.RecreateCollectionAsync(new CollectionDescriptor(collection, "model-b", Dimension), Ct);
        await second.UpsertAsync([new VectorRecord("only", Clustered(1, seed: 12)[0].Vector, Meta())], Ct);
        second.Dispose();

        await File.WriteAllBytesAsync(first.VectorFilePath, old, Ct);
        var third = fixture.Open(collection);

        Assert.Equal(1, await third.CountAsync(Ct));
        Assert.Equal("rebuild: from an earlier collection epoch", third.LoadedFrom);
    }

    [Theory]
    [InlineData(8)]
    [InlineData(64)]
    [InlineData(96)]
    [InlineData(200)]
    [InlineData(768)]
    public void Given_4_bit_codes_When_dotted_with_a_query_Then_the_sum_is_that_of_the_levels_dimension_by_dimension(int dimension)
    {
        var rng = new Random(dimension);
        var vector = Enumerable.Range(0, dimension).Select(_ => Gaussian(rng)).ToArray();
        var means = Enumerable.Range(0, dimension).Select(_ => Gaussian(rng) * 0.1f).ToArray();
        var inverseSteps = Enumerable.Range(0, dimension).Select(_ => 1f / (0.2f + (float)rng.NextDouble())).ToArray();
        var query = Enumerable.Range(0, dimension).Select(_ => (sbyte)rng.Next(-127, 128)).ToArray();
        var codes = new byte[Int4Dot.Stride(dimension)];

        Int4Dot.Encode(vector, codes, means, inverseSteps);

        var expected = 0;
        for (var d = 0; d < dimension; d++)
        {
            var level = (int)Math.Clamp(MathF.Round((vector[d] - means[d]) * inverseSteps[d]), -8f, 7f) + 8;
            expected += level * query[d];
        }

        Assert.Equal(expected, Int4Dot.Dot(codes, Int4Dot.LayOut(query)));
    }

    [Theory]
    [InlineData(8)]
    [InlineData(64)]
    [InlineData(96)]
    [InlineData(128)]
    [InlineData(200)]
    [InlineData(384)]
    [InlineData(768)]
    public void Given_4_bit_codes_split_into_planes_When_dotted_Then_the_high_plane_is_the_sum_of_the_high_halves_and_4_high_plus_low_is_the_4_bit_sum(int dimension)
    {
        var rng = new Random(100 + dimension);
        var means = Enumerable.Range(0, dimension).Select(_ => Gaussian(rng) * 0.1f).ToArray();
        var inverseSteps = Enumerable.Range(0, dimension).Select(_ => 1f / (0.1f + (0.3f * (float)rng.NextDouble()))).ToArray();
        var stride = Int4Dot.PlaneStride(dimension);
        for (var trial = 0; trial < 20; trial++)
        {
            var vector = Enumerable.Range(0, dimension).Select(_ => Gaussian(rng)).ToArray();
            var query = Enumerable.Range(0, dimension).Select(_ => (sbyte)rng.Next(-127, 128)).ToArray();
            var high = new byte[stride];
            var low = new byte[stride];

            Int4Dot.EncodePlanes(vector, high, low, means, inverseSteps);

            var expectedHigh = 0;
            var expectedLow = 0;
            for (var d = 0; d < dimension; d++)
            {
                var level = (int)Math.Clamp(MathF.Round((vector[d] - means[d]) * inverseSteps[d]), -8f, 7f) + 8;
                expectedHigh += (level >> 2) * query[d];
                expectedLow += (level & 3) * query[d];
            }

            var laidOut = Int4Dot.LayOutForPlanes(query);
            Assert.Equal(expectedHigh, Int4Dot.PlaneDot(high, laidOut));
            Assert.Equal(expectedLow, Int4Dot.PlaneDot(low, laidOut));
            var packed = new byte[Int4Dot.Stride(dimension)];
            Int4Dot.Encode(vector, packed, means, inverseSteps);
            Assert.Equal(Int4Dot.Dot(packed, Int4Dot.LayOut(query)), (4 * expectedHigh) + expectedLow);
        }
    }

    [Theory]
    [InlineData(64)]
    [InlineData(96)]
    [InlineData(192)]
    [InlineData(768)]
    public void Given_packed_4_bit_codes_When_split_into_planes_and_packed_again_Then_every_byte_comes_back(int dimension)
    {
        const int Rows = 5;
        var rng = new Random(dimension);
        var packed = new byte[Rows * Int4Dot.Stride(dimension)];
        rng.NextBytes(packed);
        var stride = Int4Dot.PlaneStride(dimension);
        var high = new byte[Rows * stride];
        var low = new byte[Rows * stride];
        var again = new byte[packed.Length];

        Int4Dot.ToPlanes(packed, high, low, Rows);
        Int4Dot.FromPlanes(high, low, again, Rows);

        Assert.Equal(packed, again);
        Assert.NotEqual(high, low);

        // Row by row gives the same planes as all rows at once.
        for (var r = 0; r < Rows; r++)
        {
            var rowHigh = new byte[stride];
            var rowLow = new byte[stride];
            Int4Dot.ToPlanes(packed.AsSpan(r * Int4Dot.Stride(dimension), Int4Dot.Stride(dimension)), rowHigh, rowLow);
            Assert.Equal(high.AsSpan(r * stride, stride).ToArray(), rowHigh);
            Assert.Equal(low.AsSpan(r * stride, stride).ToArray(), rowLow);
        }
    }

    [Fact]
    public async Task Given_random_unit_vectors_When_queried_with_4_bit_planes_Then_recall_at_10_against_the_exact_scan_is_at_least_0_99()
    {
        // Independent random rows are the hard case for coarse codes: a true neighbour is barely closer
        // than the rest, so a first pass that ranks by 2 bits a dimension must keep enough of them.
        var rng = new Random(77);
        var data = Enumerable.Range(0, 24_000).Select(i => new VectorRecord($"r{i:D6}", RandomUnit(rng), Meta(("n", i)))).ToList();
        var int4 = await FilledAsync(data, new LocalVectorStoreOptions { Index = LocalIndexKind.Int4 });
        var exact = await FilledAsync(data, new LocalVectorStoreOptions { Index = LocalIndexKind.Exact });
        Assert.True(int4.UsesQuantizedScan);

        var found = 0;
        const int Queries = 40;
        for (var q = 0; q < Queries; q++)
        {
            var query = RandomUnit(rng);
            var truth = (await exact.QueryAsync(new VectorQuery(query, TopK: 10), Ct)).Select(h => h.Record.Id).ToHashSet();
            var hits = await int4.QueryAsync(new VectorQuery(query, TopK: 10), Ct);
            found += hits.Count(h => truth.Contains(h.Record.Id));
        }

        var recall = found / (Queries * 10.0);
        Assert.True(recall >= 0.99, $"recall@10 {recall:0.000}");
    }

    private static float[] RandomUnit(Random rng) => LocalVectorIndex.Normalize(Enumerable.Range(0, Dimension).Select(_ => Gaussian(rng)).ToArray(), "test");

    private static string NewCollection() => "index-" + Guid.NewGuid().ToString("N")[..16];

    private async Task<LocalVectorStore> FilledAsync(List<VectorRecord> data, LocalVectorStoreOptions? options = null, string? collection = null)
    {
        collection ??= NewCollection();
        var store = fixture.Open(collection, options);
        await store.EnsureCollectionAsync(new CollectionDescriptor(collection, "model-a", Dimension), Ct);
        foreach (var batch in data.Chunk(1000))
        {
            await store.UpsertAsync(batch, Ct);
        }

        return store;
    }

    /// <summary>
    /// Unit vectors around <see cref="Clusters"/> random centres, each dimension with its own spread (as
    /// model embeddings have), so neighbours are close and per-dimension scaling matters.
    /// </summary>
    private static List<VectorRecord> Clustered(int count, int seed)
    {
        var centres = new Random(1234);
        var spread = Enumerable.Range(0, Dimension).Select(d => 0.2f + (3f * d / Dimension)).ToArray();
        var centre = Enumerable.Range(0, Clusters).Select(_ => Enumerable.Range(0, Dimension).Select(d => Gaussian(centres) * spread[d]).ToArray()).ToArray();
        var rng = new Random(seed);
        var records = new List<VectorRecord>(count);
        for (var i = 0; i < count; i++)
        {
            var c = rng.Next(Clusters);
            var v = Enumerable.Range(0, Dimension).Select(d => centre[c][d] + (0.35f * spread[d] * Gaussian(rng))).ToArray();
            records.Add(new VectorRecord($"s{seed}-{i:D6}", LocalVectorIndex.Normalize(v, "test"), Meta(("group", i % 50), ("tags", new[] { $"t{i % 7}", "all" }))));
        }

        return records;
    }

    private static float Gaussian(Random rng) => (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));

    private static float Dot(ReadOnlyMemory<float> a, ReadOnlyMemory<float> b) => System.Numerics.Tensors.TensorPrimitives.Dot(a.Span, b.Span);

    private static Dictionary<string, JsonElement> Meta(params (string Key, object Value)[] metadata) =>
        metadata.ToDictionary(m => m.Key, m => JsonSerializer.SerializeToElement(m.Value), StringComparer.Ordinal);
}
