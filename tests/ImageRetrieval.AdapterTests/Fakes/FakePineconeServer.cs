using System.Text.Json.Nodes;
using System.Text.Json;
using System.Text;
using ImageRetrieval.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace ImageRetrieval.AdapterTests.Fakes;

/// <summary>
/// An in-memory Pinecone: the control plane ("Create an index", "Describe an index", "Configure an
/// index", "Delete an index" of docs.pinecone.io/reference/api/2025-04/control-plane) and, under
/// <c>/idx/{name}/</c> standing in for each index's own host, the data plane ("Upsert vectors",
/// "Query vectors", "Fetch vectors", "Delete vectors", "List vector IDs", "Get index stats" of
/// .../2025-04/data-plane). Control-plane errors are <c>{"error": {"code", "message"}, "status"}</c>,
/// data-plane errors <c>{"code", "message", "details"}</c>. With <see cref="VisibilityDelay"/> it is
/// eventually consistent like serverless Pinecone: query, list and stats see a write only after the
/// delay, fetch at once ("Check data freshness").
/// </summary>
public sealed class FakePineconeServer : FakeProviderServer
{
    public const string ApiKey = "pc-test-key";
    private readonly Dictionary<string, FakeIndex> _indexes = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public TimeSpan VisibilityDelay { get; init; }

    /// <summary>How many describes report a new index as "Initializing" before it is ready.</summary>
    public int DescribesUntilReady { get; init; } = 1;

    public bool HasPendingWrites
    {
        get
        {
            lock (_gate)
            {
                var namespaces = _indexes.Values.SelectMany(i => i.Namespaces.Values).ToList();
                namespaces.ForEach(ApplyDue);
                return namespaces.Any(n => n.Pending.Count > 0);
            }
        }
    }

    public sealed class FakeIndex(string name, int dimension, string metric, JsonObject tags)
    {
        public string Name { get; } = name;

        public int Dimension { get; } = dimension;

        public string Metric { get; } = metric;

        public JsonObject Tags { get; set; } = tags;

        public int DescribesLeft { get; set; }

        public Dictionary<string, FakeNamespace> Namespaces { get; } = new(StringComparer.Ordinal);
    }

    public sealed class FakeNamespace
    {
        /// <summary>What fetch reads: every acknowledged write.</summary>
        public SortedDictionary<string, (float[] Values, JsonObject Metadata)> Written { get; } = new(StringComparer.Ordinal);

        /// <summary>What query, list and stats read: writes older than the visibility delay.</summary>
        public SortedDictionary<string, (float[] Values, JsonObject Metadata)> Indexed { get; } = new(StringComparer.Ordinal);

        public List<(DateTimeOffset Due, Action<SortedDictionary<string, (float[] Values, JsonObject Metadata)>> Apply)> Pending { get; } = [];
    }

    public FakeIndex? Find(string name)
    {
        lock (_gate)
        {
            return _indexes.GetValueOrDefault(name);
        }
    }

    public void AddIndex(string name, int dimension, string metric, JsonObject? tags = null)
    {
        lock (_gate)
        {
            _indexes[name] = new FakeIndex(name, dimension, metric, tags ?? []);
        }
    }

    protected override void Map(WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            // "Authentication": every call carries Api-Key; a wrong one is 401 with a plain "Unauthorized".
            if (context.Request.Headers["Api-Key"] != ApiKey)
            {
                context.Response.StatusCode = 401;
                await context.Response.WriteAsync("Unauthorized");
                return;
            }

            await next(context);
        });

        // GET /indexes/{name} ("Describe an index"): 404 NOT_FOUND when absent; host without scheme in the
        // real API, here with http:// and a per-index path because one fake serves every index.
        app.MapGet("/indexes/{name}", (string name) =>
        {
            lock (_gate)
            {
                if (!_indexes.TryGetValue(name, out var index))
                {
                    return ControlError(404, "NOT_FOUND", $"Resource {name} not found");
                }

                var ready = index.DescribesLeft <= 0;
                index.DescribesLeft--;
                return Json(Describe(index, ready));
            }
        });

        // GET /indexes ("List indexes"): every index's model, as describe gives it (without counting as a describe).
        app.MapGet("/indexes", () =>
        {
            lock (_gate)
            {
                return Json(new JsonObject { ["indexes"] = new JsonArray([.. _indexes.Values.Select(i => (JsonNode)Describe(i, i.DescribesLeft <= 0))]) });
            }
        });

        // POST /indexes ("Create an index"): 201 with the model (not ready yet), 409 ALREADY_EXISTS.
        app.MapPost("/indexes", async (HttpRequest request) =>
        {
            var body = await ReadAsync(request);
            var name = body["name"]!.GetValue<string>();
            lock (_gate)
            {
                if (_indexes.ContainsKey(name))
                {
                    return ControlError(409, "ALREADY_EXISTS", $"Resource {name} already exists");
                }

                if (body["spec"]?["serverless"] is null)
                {
                    return ControlError(400, "INVALID_ARGUMENT", "spec.serverless is required");
                }

                var index = new FakeIndex(name, body["dimension"]!.GetValue<int>(), body["metric"]?.GetValue<string>() ?? "cosine", body["tags"]?.AsObject().DeepClone().AsObject() ?? [])
                {
                    DescribesLeft = DescribesUntilReady,
                };
                _indexes[name] = index;
                return Json(Describe(index, ready: false), 201);
            }
        });

        // PATCH /indexes/{name} ("Configure an index"): tags are merged, "" unsets a key.
        app.MapPatch("/indexes/{name}", async (string name, HttpRequest request) =>
        {
            var body = await ReadAsync(request);
            lock (_gate)
            {
                if (!_indexes.TryGetValue(name, out var index))
                {
                    return ControlError(404, "NOT_FOUND", $"Resource {name} not found");
                }

                foreach (var (key, value) in body["tags"]?.AsObject() ?? [])
                {
                    if (value?.GetValue<string>() is { Length: > 0 } v)
                    {
                        index.Tags[key] = v;
                    }
                    else
                    {
                        index.Tags.Remove(key);
                    }
                }

                return Json(Describe(index, ready: true));
            }
        });

        // DELETE /indexes/{name} ("Delete an index"): 202 Accepted.
        app.MapDelete("/indexes/{name}", (string name) =>
        {
            lock (_gate)
            {
                return _indexes.Remove(name) ? Results.StatusCode(202) : ControlError(404, "NOT_FOUND", $"Resource {name} not found");
            }
        });

        // POST /vectors/upsert ("Upsert vectors"): dimension checked, at most 1000 vectors and 2 MB.
        app.MapPost("/idx/{name}/vectors/upsert", async (string name, HttpRequest request) =>
        {
            var raw = await ReadBytesAsync(request);
            if (raw.Length > 2 * 1024 * 1024)
            {
                return DataError(400, 3, $"Request size {raw.Length} bytes exceeds the maximum supported size of 2MB");
            }

            var body = JsonNode.Parse(raw)!;
            var vectors = body["vectors"]!.AsArray();
            if (vectors.Count > 1000)
            {
                return DataError(400, 3, "Batch size exceeds the maximum of 1000 vectors");
            }

            lock (_gate)
            {
                if (!_indexes.TryGetValue(name, out var index))
                {
                    return DataError(404, 5, "Index not found");
                }

                foreach (var vector in vectors)
                {
                    var values = vector!["values"]!.AsArray();
                    if (values.Count != index.Dimension)
                    {
                        return DataError(400, 3, $"Vector dimension {values.Count} does not match the dimension of the index {index.Dimension}");
                    }
                }

                var ns = Namespace(index, body["namespace"]?.GetValue<string>());
                foreach (var vector in vectors)
                {
                    var id = vector!["id"]!.GetValue<string>();
                    var entry = (vector["values"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray(), vector["metadata"]?.AsObject().DeepClone().AsObject() ?? []);
                    ns.Written[id] = entry;
                    Later(ns, indexed => indexed[id] = entry);
                }

                return Json(new JsonObject { ["upsertedCount"] = vectors.Count });
            }
        });

        // POST /query ("Query vectors"): cosine similarity, best first, metadata when includeMetadata.
        app.MapPost("/idx/{name}/query", async (string name, HttpRequest request) =>
        {
            var body = await ReadAsync(request);
            lock (_gate)
            {
                if (!_indexes.TryGetValue(name, out var index))
                {
                    return DataError(404, 5, "Index not found");
                }

                var query = body["vector"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray();
                if (query.Length != index.Dimension)
                {
                    return DataError(400, 3, $"Vector dimension {query.Length} does not match the dimension of the index {index.Dimension}");
                }

                var ns = Namespace(index, body["namespace"]?.GetValue<string>());
                ApplyDue(ns);
                var filter = body["filter"];
                var includeMetadata = body["includeMetadata"]?.GetValue<bool>() ?? false;
                var matches = ns.Indexed
                    .Where(v => filter is null || FilterMatches(filter, v.Value.Metadata))
                    .Select(v => (v.Key, v.Value, Score: ExactCosine.Of(query, v.Value.Values)))
                    .OrderByDescending(m => m.Score)
                    .Take(body["topK"]!.GetValue<int>())
                    .Select(m =>
                    {
                        var match = new JsonObject { ["id"] = m.Key, ["score"] = m.Score };
                        if (includeMetadata)
                        {
                            match["metadata"] = m.Value.Metadata.DeepClone();
                        }

                        return (JsonNode)match;
                    });
                return Json(new JsonObject { ["matches"] = new JsonArray([.. matches]), ["namespace"] = body["namespace"]?.GetValue<string>() ?? "", ["usage"] = new JsonObject { ["readUnits"] = 5 } });
            }
        });

        // GET /vectors/fetch?ids=..&namespace=.. ("Fetch vectors"): unknown ids are left out.
        app.MapGet("/idx/{name}/vectors/fetch", (string name, HttpRequest request) =>
        {
            lock (_gate)
            {
                if (!_indexes.TryGetValue(name, out var index))
                {
                    return DataError(404, 5, "Index not found");
                }

                var ns = Namespace(index, request.Query["namespace"].ToString());
                var vectors = new JsonObject();
                foreach (var id in request.Query["ids"].Select(i => i!))
                {
                    if (ns.Written.TryGetValue(id, out var v))
                    {
                        vectors[id] = new JsonObject
                        {
                            ["id"] = id,
                            ["values"] = new JsonArray([.. v.Values.Select(x => (JsonNode)x)]),
                            ["metadata"] = v.Metadata.DeepClone(),
                        };
                    }
                }

                return Json(new JsonObject { ["vectors"] = vectors, ["namespace"] = request.Query["namespace"].ToString(), ["usage"] = new JsonObject { ["readUnits"] = 1 } });
            }
        });

        // POST /vectors/delete ("Delete vectors") by ids; unknown ids are fine; answers {}.
        app.MapPost("/idx/{name}/vectors/delete", async (string name, HttpRequest request) =>
        {
            var body = await ReadAsync(request);
            lock (_gate)
            {
                if (!_indexes.TryGetValue(name, out var index))
                {
                    return DataError(404, 5, "Index not found");
                }

                var ns = Namespace(index, body["namespace"]?.GetValue<string>());
                foreach (var id in body["ids"]?.AsArray().Select(i => i!.GetValue<string>()) ?? [])
                {
                    ns.Written.Remove(id);
                    Later(ns, indexed => indexed.Remove(id));
                }

                return Json(new JsonObject());
            }
        });

        // GET /vectors/list ("List vector IDs"): sorted ids, up to `limit` (default 100), pagination.next
        // while more remain, no pagination on the last page.
        app.MapGet("/idx/{name}/vectors/list", (string name, HttpRequest request) =>
        {
            lock (_gate)
            {
                if (!_indexes.TryGetValue(name, out var index))
                {
                    return DataError(404, 5, "Index not found");
                }

                var ns = Namespace(index, request.Query["namespace"].ToString());
                ApplyDue(ns);
                var limit = int.TryParse(request.Query["limit"], out var l) ? l : 100;
                if (limit is < 1 or > 100)
                {
                    return DataError(400, 3, "limit must be between 1 and 100");
                }

                var after = request.Query["paginationToken"].ToString() is { Length: > 0 } token ? Encoding.UTF8.GetString(Convert.FromBase64String(token)) : null;
                var remaining = ns.Indexed.Keys.Where(id => after is null || string.CompareOrdinal(id, after) > 0).ToList();
                var page = remaining.Take(limit).ToList();
                var response = new JsonObject
                {
                    ["vectors"] = new JsonArray([.. page.Select(id => (JsonNode)new JsonObject { ["id"] = id })]),
                    ["namespace"] = request.Query["namespace"].ToString(),
                    ["usage"] = new JsonObject { ["readUnits"] = 1 },
                };
                if (remaining.Count > limit)
                {
                    response["pagination"] = new JsonObject { ["next"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(page[^1])) };
                }

                return Json(response);
            }
        });

        // POST /describe_index_stats ("Get index stats"): vectorCount per namespace, "" for the default.
        app.MapPost("/idx/{name}/describe_index_stats", (string name) =>
        {
            lock (_gate)
            {
                if (!_indexes.TryGetValue(name, out var index))
                {
                    return DataError(404, 5, "Index not found");
                }

                var namespaces = new JsonObject();
                long total = 0;
                foreach (var (key, ns) in index.Namespaces)
                {
                    ApplyDue(ns);
                    if (ns.Indexed.Count > 0)
                    {
                        namespaces[key] = new JsonObject { ["vectorCount"] = ns.Indexed.Count };
                        total += ns.Indexed.Count;
                    }
                }

                return Json(new JsonObject { ["namespaces"] = namespaces, ["dimension"] = index.Dimension, ["indexFullness"] = 0, ["totalVectorCount"] = total });
            }
        });
    }

    private JsonObject Describe(FakeIndex index, bool ready) => new()
    {
        ["name"] = index.Name,
        ["vector_type"] = "dense",
        ["metric"] = index.Metric,
        ["dimension"] = index.Dimension,
        ["status"] = new JsonObject { ["ready"] = ready, ["state"] = ready ? "Ready" : "Initializing" },
        ["host"] = new Uri(BaseUri, $"idx/{index.Name}").ToString(),
        ["spec"] = new JsonObject { ["serverless"] = new JsonObject { ["cloud"] = "gcp", ["region"] = "us-central1" } },
        ["deletion_protection"] = "disabled",
        ["tags"] = index.Tags.DeepClone(),
    };

    private static FakeNamespace Namespace(FakeIndex index, string? name)
    {
        var key = name ?? "";
        if (!index.Namespaces.TryGetValue(key, out var ns))
        {
            ns = new FakeNamespace();
            index.Namespaces[key] = ns;
        }

        return ns;
    }

    private void Later(FakeNamespace ns, Action<SortedDictionary<string, (float[] Values, JsonObject Metadata)>> apply)
    {
        ns.Pending.Add((DateTimeOffset.UtcNow + VisibilityDelay, apply));
        ApplyDue(ns);
    }

    private static void ApplyDue(FakeNamespace ns)
    {
        var now = DateTimeOffset.UtcNow;
        while (ns.Pending.Count > 0 && ns.Pending[0].Due <= now)
        {
            ns.Pending[0].Apply(ns.Indexed);
            ns.Pending.RemoveAt(0);
        }
    }

    /// <summary>"Metadata filtering": $eq, $ne, $in, $nin, $and, $or; a list field matches when any element does.</summary>
    private static bool FilterMatches(JsonNode filter, JsonObject metadata)
    {
        foreach (var (key, clause) in filter.AsObject())
        {
            var ok = key switch
            {
                "$and" => clause!.AsArray().All(c => FilterMatches(c!, metadata)),
                "$or" => clause!.AsArray().Any(c => FilterMatches(c!, metadata)),
                _ => FieldMatches(metadata[key], clause!),
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    private static bool FieldMatches(JsonNode? stored, JsonNode clause)
    {
        var values = stored is JsonArray array ? array.Select(v => v!).ToList() : stored is null ? [] : [stored];
        if (clause is not JsonObject ops)
        {
            return values.Any(v => Same(v, clause));
        }

        foreach (var (op, operand) in ops)
        {
            var ok = op switch
            {
                "$eq" => values.Any(v => Same(v, operand!)),
                "$ne" => !values.Any(v => Same(v, operand!)),
                "$in" => values.Any(v => operand!.AsArray().Any(o => Same(v, o!))),
                "$nin" => !values.Any(v => operand!.AsArray().Any(o => Same(v, o!))),
                _ => throw new NotSupportedException(op),
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    private static bool Same(JsonNode a, JsonNode b) => (a.GetValueKind(), b.GetValueKind()) switch
    {
        (JsonValueKind.String, JsonValueKind.String) => a.GetValue<string>() == b.GetValue<string>(),
        (JsonValueKind.Number, JsonValueKind.Number) => a.GetValue<double>().Equals(b.GetValue<double>()),
        (JsonValueKind.True, JsonValueKind.True) or (JsonValueKind.False, JsonValueKind.False) => true,
        _ => false,
    };

    private static async Task<JsonNode> ReadAsync(HttpRequest request) => JsonNode.Parse(await ReadBytesAsync(request)) ?? new JsonObject();

    private static async Task<byte[]> ReadBytesAsync(HttpRequest request)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    private static IResult Json(JsonNode body, int status = 200) => Results.Text(body.ToJsonString(), "application/json", statusCode: status);

    private static IResult ControlError(int status, string code, string message) =>
        Json(new JsonObject { ["error"] = new JsonObject { ["code"] = code, ["message"] = message }, ["status"] = status }, status);

    private static IResult DataError(int status, int code, string message) =>
        Json(new JsonObject { ["code"] = code, ["message"] = message, ["details"] = new JsonArray() }, status);
}
