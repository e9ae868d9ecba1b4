using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace ImageRetrieval.AdapterTests.Fakes;

/// <summary>
/// An in-memory Qdrant that answers the REST endpoints the adapter uses the way Qdrant's API
/// reference (api.qdrant.tech, "Collections" and "Points" sections) and its "Filtering" and
/// "Search" concept pages describe them. Every answer is <c>{"result", "status", "time"}</c>; errors
/// are <c>{"status": {"error": "..."}}</c>.
/// </summary>
public sealed class FakeQdrantServer : FakeProviderServer
{
    private readonly Dictionary<string, FakeCollectionState> _collections = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _aliases = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>When set, requests without this <c>api-key</c> header get 401 (Qdrant "Security" page).</summary>
    public string? RequiredApiKey { get; init; }

    public sealed class FakeCollectionState(int size, string distance)
    {
        public int Size { get; } = size;

        public string Distance { get; } = distance;

        public SortedDictionary<string, (float[] Vector, JsonObject Payload)> Points { get; } = new(StringComparer.Ordinal);
    }

    public FakeCollectionState? Find(string name)
    {
        lock (_gate)
        {
            return TryGet(name, out var c) ? c : null;
        }
    }

    /// <summary>The collection <paramref name="alias"/> points at, or null.</summary>
    public string? AliasTarget(string alias)
    {
        lock (_gate)
        {
            return _aliases.GetValueOrDefault(alias);
        }
    }

    public IReadOnlyList<string> CollectionNames()
    {
        lock (_gate)
        {
            return [.. _collections.Keys.Order(StringComparer.Ordinal)];
        }
    }

    /// <summary>Seeds a collection directly (e.g. one with another distance) for tests of existing state.</summary>
    public void AddCollection(string name, int size, string distance)
    {
        lock (_gate)
        {
            _collections[name] = new FakeCollectionState(size, distance);
        }
    }

    protected override void Map(WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            if (RequiredApiKey is not null && context.Request.Headers["api-key"] != RequiredApiKey)
            {
                // Qdrant "Security": a node with an api key answers 401 to requests without it (plain text body).
                context.Response.StatusCode = 401;
                await context.Response.WriteAsync("Must provide an API key or an Authorization bearer token");
                return;
            }

            await next(context);
        });

        // GET /readyz: "Kubernetes health check endpoints" — 200 once the node can serve.
        app.MapGet("/readyz", () => Results.Text("all shards are ready"));

        // GET /collections/{name} ("Get collection details"): 404 with status.error when absent.
        app.MapGet("/collections/{name}", (string name) =>
        {
            lock (_gate)
            {
                if (!TryGet(name, out var c))
                {
                    return NotFound(name);
                }

                return Ok(new JsonObject
                {
                    ["status"] = "green",
                    ["optimizer_status"] = "ok",
                    ["points_count"] = c.Points.Count,
                    ["config"] = new JsonObject
                    {
                        ["params"] = new JsonObject { ["vectors"] = new JsonObject { ["size"] = c.Size, ["distance"] = c.Distance } },
                    },
                });
            }
        });

        // PUT /collections/{name} ("Create collection"): 409 "already exists" when present.
        app.MapPut("/collections/{name}", async (string name, HttpRequest request) =>
        {
            var body = await ReadAsync(request);
            var vectors = body["vectors"]!;
            lock (_gate)
            {
                if (_collections.ContainsKey(name) || _aliases.ContainsKey(name))
                {
                    return Error(409, $"Wrong input: Collection `{name}` already exists!");
                }

                _collections[name] = new FakeCollectionState(vectors["size"]!.GetValue<int>(), vectors["distance"]!.GetValue<string>());
            }

            return Ok(JsonValue.Create(true));
        });

        // DELETE /collections/{name} ("Delete collection"): result false when there was none; its aliases go with it.
        app.MapDelete("/collections/{name}", (string name) =>
        {
            lock (_gate)
            {
                var removed = _collections.Remove(name);
                foreach (var alias in _aliases.Where(a => a.Value == name).Select(a => a.Key).ToList())
                {
                    _aliases.Remove(alias);
                }

                return Ok(JsonValue.Create(removed));
            }
        });

        // GET /collections ("List collections"): names only, aliases not included.
        app.MapGet("/collections", () =>
        {
            lock (_gate)
            {
                return Ok(new JsonObject { ["collections"] = new JsonArray([.. _collections.Keys.Select(n => (JsonNode)new JsonObject { ["name"] = n })]) });
            }
        });

        // GET /aliases ("List all aliases").
        app.MapGet("/aliases", () =>
        {
            lock (_gate)
            {
                return Ok(new JsonObject
                {
                    ["aliases"] = new JsonArray([.. _aliases.Select(a => (JsonNode)new JsonObject { ["alias_name"] = a.Key, ["collection_name"] = a.Value })]),
                });
            }
        });

        // POST /collections/aliases ("Update aliases of the collections"): every action applies, or none.
        // create_alias needs an existing collection and a name no collection or alias has; delete_alias an existing alias.
        app.MapPost("/collections/aliases", async (HttpRequest request) =>
        {
            var body = await ReadAsync(request);
            lock (_gate)
            {
                var aliases = new Dictionary<string, string>(_aliases, StringComparer.Ordinal);
                foreach (var action in body["actions"]!.AsArray())
                {
                    if (action!["create_alias"] is JsonObject create)
                    {
                        var alias = create["alias_name"]!.GetValue<string>();
                        var collection = create["collection_name"]!.GetValue<string>();
                        if (!_collections.ContainsKey(collection))
                        {
                            return NotFound(collection);
                        }

                        if (aliases.ContainsKey(alias) || _collections.ContainsKey(alias))
                        {
                            return Error(400, $"Wrong input: Alias or collection with name {alias} already exists");
                        }

                        aliases[alias] = collection;
                    }
                    else if (action["delete_alias"] is JsonObject delete)
                    {
                        var alias = delete["alias_name"]!.GetValue<string>();
                        if (!aliases.Remove(alias))
                        {
                            return Error(404, $"Not found: Alias {alias} does not exists!");
                        }
                    }
                }

                _aliases.Clear();
                foreach (var (alias, collection) in aliases)
                {
                    _aliases[alias] = collection;
                }
            }

            return Ok(JsonValue.Create(true));
        });

        // PUT /collections/{name}/points ("Upsert points"): dimension checked, Cosine vectors normalised on write.
        app.MapPut("/collections/{name}/points", async (string name, HttpRequest request) =>
        {
            var body = await ReadAsync(request);
            lock (_gate)
            {
                if (!TryGet(name, out var c))
                {
                    return NotFound(name);
                }

                foreach (var point in body["points"]!.AsArray())
                {
                    var id = point!["id"]!.ToString();
                    if (!Guid.TryParse(id, out _) && !ulong.TryParse(id, out _))
                    {
                        return Error(400, $"Format error in JSON body: value {id} is not a valid point ID, valid values are either an unsigned integer or a UUID");
                    }

                    var vector = point["vector"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray();
                    if (vector.Length != c.Size)
                    {
                        return Error(400, $"Wrong input: Vector dimension error: expected dim: {c.Size}, got {vector.Length}");
                    }

                    if (c.Distance == "Cosine")
                    {
                        var norm = MathF.Sqrt(vector.Sum(v => v * v));
                        vector = norm > 0 ? vector.Select(v => v / norm).ToArray() : vector;
                    }

                    c.Points[Guid.TryParse(id, out var g) ? g.ToString("D") : id] = (vector, point["payload"]?.AsObject().DeepClone().AsObject() ?? []);
                }
            }

            return Ok(new JsonObject { ["operation_id"] = 1, ["status"] = "completed" });
        });

        // POST /collections/{name}/points ("Retrieve points"): unknown ids are left out.
        app.MapPost("/collections/{name}/points", async (string name, HttpRequest request) =>
        {
            var body = await ReadAsync(request);
            lock (_gate)
            {
                if (!TryGet(name, out var c))
                {
                    return NotFound(name);
                }

                var withVector = body["with_vector"]?.GetValue<bool>() ?? false;
                var result = new JsonArray();
                foreach (var id in body["ids"]!.AsArray().Select(i => i!.ToString()))
                {
                    if (c.Points.TryGetValue(id, out var p))
                    {
                        result.Add(PointJson(id, p, withVector, score: null));
                    }
                }

                return Ok(result);
            }
        });

        // POST /collections/{name}/points/delete ("Delete points") by a list of ids.
        app.MapPost("/collections/{name}/points/delete", async (string name, HttpRequest request) =>
        {
            var body = await ReadAsync(request);
            lock (_gate)
            {
                if (!TryGet(name, out var c))
                {
                    return NotFound(name);
                }

                foreach (var id in body["points"]!.AsArray())
                {
                    c.Points.Remove(id!.ToString());
                }
            }

            return Ok(new JsonObject { ["operation_id"] = 2, ["status"] = "completed" });
        });

        // POST /collections/{name}/points/query ("Query points"): nearest by the collection's distance,
        // filtered, best first, "score_threshold" drops less similar results.
        app.MapPost("/collections/{name}/points/query", async (string name, HttpRequest request) =>
        {
            var body = await ReadAsync(request);
            lock (_gate)
            {
                if (!TryGet(name, out var c))
                {
                    return NotFound(name);
                }

                var query = body["query"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray();
                if (query.Length != c.Size)
                {
                    return Error(400, $"Wrong input: Vector dimension error: expected dim: {c.Size}, got {query.Length}");
                }

                var norm = MathF.Sqrt(query.Sum(v => v * v));
                var unit = c.Distance == "Cosine" && norm > 0 ? query.Select(v => v / norm).ToArray() : query;
                var threshold = body["score_threshold"]?.GetValue<float>();
                var filter = body["filter"];
                var hits = c.Points
                    .Where(p => Matches(filter, p.Key, p.Value.Payload))
                    .Select(p => (p.Key, p.Value, Score: unit.Zip(p.Value.Vector, (a, b) => a * b).Sum()))
                    .Where(h => threshold is null || h.Score >= threshold)
                    .OrderByDescending(h => h.Score)
                    .Take(body["limit"]?.GetValue<int>() ?? 10);
                var withVector = body["with_vector"]?.GetValue<bool>() ?? false;
                return Ok(new JsonObject { ["points"] = new JsonArray([.. hits.Select(h => PointJson(h.Key, h.Value, withVector, h.Score))]) });
            }
        });

        // POST /collections/{name}/points/scroll ("Scroll points"): id order, "offset" is the first id
        // of the page, "next_page_offset" the first id of the next page or null.
        app.MapPost("/collections/{name}/points/scroll", async (string name, HttpRequest request) =>
        {
            var body = await ReadAsync(request);
            lock (_gate)
            {
                if (!TryGet(name, out var c))
                {
                    return NotFound(name);
                }

                var limit = body["limit"]?.GetValue<int>() ?? 10;
                var offset = body["offset"]?.ToString();
                var filter = body["filter"];
                var candidates = c.Points
                    .Where(p => offset is null || string.CompareOrdinal(p.Key, offset) >= 0)
                    .Where(p => Matches(filter, p.Key, p.Value.Payload))
                    .Take(limit + 1)
                    .ToList();
                var page = candidates.Take(limit).Select(p => PointJson(p.Key, p.Value, body["with_vector"]?.GetValue<bool>() ?? false, null));
                return Ok(new JsonObject
                {
                    ["points"] = new JsonArray([.. page]),
                    ["next_page_offset"] = candidates.Count > limit ? candidates[limit].Key : null,
                });
            }
        });

        // POST /collections/{name}/points/count ("Count points"), exact.
        app.MapPost("/collections/{name}/points/count", async (string name, HttpRequest request) =>
        {
            var body = await ReadAsync(request);
            lock (_gate)
            {
                if (!TryGet(name, out var c))
                {
                    return NotFound(name);
                }

                var filter = body["filter"];
                return Ok(new JsonObject { ["count"] = c.Points.Count(p => Matches(filter, p.Key, p.Value.Payload)) });
            }
        });
    }

    /// <summary>Every call that names a collection accepts an alias of it too ("Collection aliases").</summary>
    private bool TryGet(string name, out FakeCollectionState collection) =>
        _collections.TryGetValue(_aliases.GetValueOrDefault(name) ?? name, out collection!);

    private static JsonObject PointJson(string id, (float[] Vector, JsonObject Payload) point, bool withVector, float? score)
    {
        var json = new JsonObject { ["id"] = id, ["version"] = 0 };
        if (score is { } s)
        {
            json["score"] = s;
        }

        json["payload"] = point.Payload.DeepClone();
        if (withVector)
        {
            json["vector"] = new JsonArray([.. point.Vector.Select(v => (JsonNode)v)]);
        }

        return json;
    }

    /// <summary>Qdrant "Filtering": must = AND, must_not = NOR, should = OR; a condition is a field
    /// condition (match.value, match.any, range), has_id, or a nested filter. A list payload value
    /// matches when any element does.</summary>
    private static bool Matches(JsonNode? filter, string id, JsonObject payload)
    {
        if (filter is null)
        {
            return true;
        }

        var must = filter["must"]?.AsArray() ?? [];
        var mustNot = filter["must_not"]?.AsArray() ?? [];
        var should = filter["should"]?.AsArray();
        return must.All(c => Condition(c!, id, payload))
            && !mustNot.Any(c => Condition(c!, id, payload))
            && (should is null || should.Count == 0 || should.Any(c => Condition(c!, id, payload)));
    }

    private static bool Condition(JsonNode condition, string id, JsonObject payload)
    {
        if (condition["has_id"] is JsonArray ids)
        {
            return ids.Any(i => string.Equals(i!.ToString(), id, StringComparison.OrdinalIgnoreCase));
        }

        if (condition["key"] is null)
        {
            return Matches(condition, id, payload);
        }

        var key = condition["key"]!.GetValue<string>();
        if (!payload.TryGetPropertyValue(key, out var stored) || stored is null)
        {
            return false;
        }

        var values = stored is JsonArray array ? array.Where(v => v is not null).Select(v => v!).ToList() : [stored];
        if (condition["match"] is JsonObject match)
        {
            if (match["value"] is { } wanted)
            {
                return values.Any(v => SameScalar(v, wanted));
            }

            if (match["any"] is JsonArray any)
            {
                return values.Any(v => any.Any(w => SameScalar(v, w!)));
            }
        }

        if (condition["range"] is JsonObject range)
        {
            return values.Any(v =>
                v.GetValueKind() == JsonValueKind.Number
                && (range["gte"] is null || v.GetValue<double>() >= range["gte"]!.GetValue<double>())
                && (range["lte"] is null || v.GetValue<double>() <= range["lte"]!.GetValue<double>()));
        }

        return false;
    }

    private static bool SameScalar(JsonNode a, JsonNode b) => (a.GetValueKind(), b.GetValueKind()) switch
    {
        (JsonValueKind.String, JsonValueKind.String) => a.GetValue<string>() == b.GetValue<string>(),
        (JsonValueKind.Number, JsonValueKind.Number) => a.GetValue<double>().Equals(b.GetValue<double>()),
        (JsonValueKind.True, JsonValueKind.True) or (JsonValueKind.False, JsonValueKind.False) => true,
        _ => false,
    };

    private static async Task<JsonNode> ReadAsync(HttpRequest request) =>
        await JsonNode.ParseAsync(request.Body) ?? new JsonObject();

    private static IResult Ok(JsonNode? result) =>
        Results.Text(new JsonObject { ["result"] = result, ["status"] = "ok", ["time"] = 0.0001 }.ToJsonString(), "application/json");

    private static IResult NotFound(string name) => Error(404, $"Not found: Collection `{name}` doesn't exist!");

    private static IResult Error(int status, string message) =>
        Results.Text(new JsonObject { ["status"] = new JsonObject { ["error"] = message }, ["time"] = 0.0 }.ToJsonString(), "application/json", statusCode: status);
}
