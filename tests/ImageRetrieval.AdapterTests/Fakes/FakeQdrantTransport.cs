using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using Google.Protobuf.Collections;
using ServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;
using Grpc.Core;
using ImageRetrieval.Infrastructure.VectorStores.Qdrant;
using Microsoft.Extensions.DependencyInjection;
using Qdrant.Client.Grpc;

namespace ImageRetrieval.AdapterTests.Fakes;

/// <summary>One gRPC call as the fake saw it: <c>Service/Method</c> (e.g. <c>Points/Upsert</c>), the decoded request and the HTTP/2 headers.</summary>
public sealed record RecordedCall(string Method, IMessage Request, IReadOnlyDictionary<string, string> Headers)
{
    public T Body<T>()
        where T : IMessage => (T)Request;

    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
}

/// <summary>
/// A canned answer instead of the normal one: a gRPC status (as Qdrant sends errors, trailers-only, with
/// optional extra trailers such as <c>retry-after</c>), or with <see cref="HttpStatus"/> a plain HTTP answer
/// (a proxy's page) that is not gRPC at all.
/// </summary>
public sealed record ScriptedStatus(StatusCode Code, string Detail = "", IReadOnlyDictionary<string, string>? Trailers = null)
{
    /// <summary>When set, only calls whose <c>Service/Method</c> contains this text consume the answer.</summary>
    public string? MethodContains { get; init; }

    public HttpStatusCode? HttpStatus { get; init; }

    public string HttpContentType { get; init; } = "text/html";

    public string HttpBody { get; init; } = "";
}

/// <summary>
/// An in-memory Qdrant at the transport boundary of the official client: the primary
/// <see cref="HttpMessageHandler"/> of the gRPC channel, so Grpc.Net.Client frames, deadlines, metadata and
/// status handling all run as against a node. It decodes each call with the client's own generated
/// descriptors (<c>qdrant.Collections</c>, <c>qdrant.Points</c>) and answers the calls the adapter makes the
/// way Qdrant's gRPC API (its <c>collections.proto</c> / <c>points.proto</c> and the "Collections", "Points",
/// "Filtering" and "Security" docs) describes them: aliases resolve wherever a collection name is accepted,
/// cosine vectors are normalised on write, errors are statuses with Qdrant's wording.
/// </summary>
public sealed class FakeQdrantTransport : HttpMessageHandler
{
    private static readonly Dictionary<string, ServiceDescriptor> Services = new[]
    {
        Collections.Descriptor, Points.Descriptor, global::Qdrant.Client.Grpc.Qdrant.Descriptor,
    }.ToDictionary(s => s.FullName, StringComparer.Ordinal);

    private readonly Dictionary<string, FakeCollectionState> _collections = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _aliases = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<RecordedCall> _calls = new();
    private readonly List<ScriptedStatus> _script = [];
    private readonly Lock _gate = new();

    /// <summary>When set, calls without this <c>api-key</c> metadata get Unauthenticated (Qdrant "Security").</summary>
    public string? RequiredApiKey { get; init; }

    public IReadOnlyList<RecordedCall> Calls => [.. _calls];

    public sealed class FakeCollectionState(int size, Distance distance)
    {
        public int Size { get; } = size;

        public Distance Distance { get; } = distance;

        /// <summary>By point id text (UUID in its 8-4-4-4-12 form), so ordinal order is Qdrant's id order.</summary>
        public SortedDictionary<string, (float[] Vector, MapField<string, Value> Payload)> Points { get; } = new(StringComparer.Ordinal);
    }

    /// <summary>Makes the Qdrant adapter registered in <paramref name="services"/> talk to this fake.</summary>
    public void Install(IServiceCollection services) =>
        services.AddHttpClient(QdrantRegistration.HttpClientName).ConfigurePrimaryHttpMessageHandler(() => new Forwarder(this));

    public void ClearCalls() => _calls.Clear();

    /// <summary>The next call(s) matching get these answers, in order.</summary>
    public void Script(params ScriptedStatus[] answers)
    {
        lock (_script)
        {
            _script.AddRange(answers);
        }
    }

    public FakeCollectionState? Find(string name)
    {
        lock (_gate)
        {
            return TryGet(name, out var c) ? c : null;
        }
    }

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
    public void AddCollection(string name, int size, Distance distance)
    {
        lock (_gate)
        {
            _collections[name] = new FakeCollectionState(size, distance);
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        // "/qdrant.Points/Upsert": the service's full name, then the method.
        var path = request.RequestUri!.AbsolutePath.Trim('/').Split('/');
        var headers = request.Headers.ToDictionary(h => h.Key, h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase);
        var frame = await request.Content!.ReadAsByteArrayAsync(cancellationToken);
        if (path.Length != 2 || !Services.TryGetValue(path[0], out var service) || service.FindMethodByName(path[1]) is not { } method)
        {
            return StatusAnswer(StatusCode.Unimplemented, $"Unknown method {request.RequestUri.AbsolutePath}");
        }

        // A gRPC message: 1 byte compressed flag, 4 bytes big-endian length, the protobuf bytes.
        var length = (int)BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(1, 4));
        var message = method.InputType.Parser.ParseFrom(frame, 5, length);
        var name = service.Name + "/" + method.Name;
        _calls.Enqueue(new RecordedCall(name, message, headers));

        if (RequiredApiKey is not null && headers.GetValueOrDefault("api-key") != RequiredApiKey)
        {
            return StatusAnswer(StatusCode.Unauthenticated, "Must provide an API key or an Authorization bearer token");
        }

        if (NextScripted(name) is { } scripted)
        {
            return scripted.HttpStatus is { } http
                ? new HttpResponseMessage(http) { Version = HttpVersion.Version20, Content = new StringContent(scripted.HttpBody, null, scripted.HttpContentType) }
                : StatusAnswer(scripted.Code, scripted.Detail, scripted.Trailers);
        }

        try
        {
            IMessage answer;
            lock (_gate)
            {
                answer = Answer(message);
            }

            return Ok(answer);
        }
        catch (RpcException ex)
        {
            return StatusAnswer(ex.StatusCode, ex.Status.Detail);
        }
    }

    private ScriptedStatus? NextScripted(string method)
    {
        lock (_script)
        {
            var index = _script.FindIndex(a => a.MethodContains is null || method.Contains(a.MethodContains, StringComparison.Ordinal));
            if (index < 0)
            {
                return null;
            }

            var scripted = _script[index];
            _script.RemoveAt(index);
            return scripted;
        }
    }

    private IMessage Answer(IMessage request) => request switch
    {
        CollectionExistsRequest r => new CollectionExistsResponse { Result = new CollectionExists { Exists = TryGet(r.CollectionName, out _) } },
        GetCollectionInfoRequest r => new GetCollectionInfoResponse { Result = Info(Require(r.CollectionName)) },
        CreateCollection r => Create(r),
        DeleteCollection r => Drop(r.CollectionName),
        ListCollectionsRequest => new ListCollectionsResponse { Collections = { _collections.Keys.Select(n => new CollectionDescription { Name = n }) } },
        ListAliasesRequest => new ListAliasesResponse { Aliases = { _aliases.Select(a => new AliasDescription { AliasName = a.Key, CollectionName = a.Value }) } },
        ChangeAliases r => UpdateAliases(r),
        UpsertPoints r => Upsert(r),
        DeletePoints r => Remove(r),
        GetPoints r => Retrieve(r),
        QueryPoints r => Query(r),
        CountPoints r => new CountResponse { Result = new CountResult { Count = (ulong)Require(r.CollectionName).Points.Count(p => Matches(r.Filter, p.Key, p.Value.Payload)) } },
        ScrollPoints r => Scroll(r),
        _ => throw new RpcException(new Status(StatusCode.Unimplemented, $"The fake does not answer {request.Descriptor.FullName}")),
    };

    private static CollectionInfo Info(FakeCollectionState c) => new()
    {
        Status = CollectionStatus.Green,
        PointsCount = (ulong)c.Points.Count,
        Config = new CollectionConfig
        {
            Params = new CollectionParams { VectorsConfig = new VectorsConfig { Params = new VectorParams { Size = (ulong)c.Size, Distance = c.Distance } } },
        },
    };

    private CollectionOperationResponse Create(CreateCollection request)
    {
        var name = request.CollectionName;
        if (_collections.ContainsKey(name) || _aliases.ContainsKey(name))
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists, $"Wrong input: Collection `{name}` already exists!"));
        }

        var vectors = request.VectorsConfig.Params;
        _collections[name] = new FakeCollectionState((int)vectors.Size, vectors.Distance);
        return new CollectionOperationResponse { Result = true };
    }

    /// <summary>"Delete collection": false when there was none; its aliases go with it.</summary>
    private CollectionOperationResponse Drop(string name)
    {
        var removed = _collections.Remove(name);
        foreach (var alias in _aliases.Where(a => a.Value == name).Select(a => a.Key).ToList())
        {
            _aliases.Remove(alias);
        }

        return new CollectionOperationResponse { Result = removed };
    }

    /// <summary>Every action applies, or none. create_alias needs an existing collection and a free name; delete_alias an existing alias.</summary>
    private CollectionOperationResponse UpdateAliases(ChangeAliases request)
    {
        var aliases = new Dictionary<string, string>(_aliases, StringComparer.Ordinal);
        foreach (var action in request.Actions)
        {
            switch (action.ActionCase)
            {
                case AliasOperations.ActionOneofCase.CreateAlias:
                    var create = action.CreateAlias;
                    if (!_collections.ContainsKey(create.CollectionName))
                    {
                        throw NotFound(create.CollectionName);
                    }

                    if (aliases.ContainsKey(create.AliasName) || _collections.ContainsKey(create.AliasName))
                    {
                        throw new RpcException(new Status(StatusCode.AlreadyExists, $"Wrong input: Alias or collection with name {create.AliasName} already exists"));
                    }

                    aliases[create.AliasName] = create.CollectionName;
                    break;
                case AliasOperations.ActionOneofCase.DeleteAlias:
                    if (!aliases.Remove(action.DeleteAlias.AliasName))
                    {
                        throw new RpcException(new Status(StatusCode.NotFound, $"Not found: Alias {action.DeleteAlias.AliasName} does not exists!"));
                    }

                    break;
                default:
                    throw new RpcException(new Status(StatusCode.Unimplemented, $"The fake does not apply {action.ActionCase}"));
            }
        }

        _aliases.Clear();
        foreach (var (alias, collection) in aliases)
        {
            _aliases[alias] = collection;
        }

        return new CollectionOperationResponse { Result = true };
    }

    private PointsOperationResponse Upsert(UpsertPoints request)
    {
        var c = Require(request.CollectionName);
        var staged = new List<(string Id, float[] Vector, MapField<string, Value> Payload)>();
        foreach (var point in request.Points)
        {
            var vector = Dense(point.Vectors.Vector);
            if (vector.Length != c.Size)
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument, $"Wrong input: Vector dimension error: expected dim: {c.Size}, got {vector.Length}"));
            }

            if (c.Distance == Distance.Cosine)
            {
                var norm = MathF.Sqrt(vector.Sum(v => v * v));
                vector = norm > 0 ? vector.Select(v => v / norm).ToArray() : vector;
            }

            staged.Add((IdText(point.Id), vector, point.Payload.Clone()));
        }

        // A batch is all or nothing: a bad point fails the call before any point is written.
        foreach (var (id, vector, payload) in staged)
        {
            c.Points[id] = (vector, payload);
        }

        return new PointsOperationResponse { Result = new UpdateResult { OperationId = 1, Status = UpdateStatus.Completed } };
    }

    private PointsOperationResponse Remove(DeletePoints request)
    {
        var c = Require(request.CollectionName);
        foreach (var id in request.Points.Points.Ids)
        {
            c.Points.Remove(IdText(id));
        }

        return new PointsOperationResponse { Result = new UpdateResult { OperationId = 2, Status = UpdateStatus.Completed } };
    }

    /// <summary>"Retrieve points": unknown ids are left out.</summary>
    private GetResponse Retrieve(GetPoints request)
    {
        var c = Require(request.CollectionName);
        var withVectors = request.WithVectors?.Enable ?? false;
        var response = new GetResponse();
        foreach (var id in request.Ids)
        {
            if (c.Points.TryGetValue(IdText(id), out var p))
            {
                var point = new RetrievedPoint { Id = id.Clone(), Payload = { p.Payload } };
                if (withVectors)
                {
                    point.Vectors = Output(p.Vector);
                }

                response.Result.Add(point);
            }
        }

        return response;
    }

    /// <summary>"Query points" with a nearest query: filtered, best first, <c>score_threshold</c> drops weaker results.</summary>
    private QueryResponse Query(QueryPoints request)
    {
        var c = Require(request.CollectionName);
        var query = request.Query.Nearest.Dense.Data.ToArray();
        if (query.Length != c.Size)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"Wrong input: Vector dimension error: expected dim: {c.Size}, got {query.Length}"));
        }

        var norm = MathF.Sqrt(query.Sum(v => v * v));
        var unit = c.Distance == Distance.Cosine && norm > 0 ? query.Select(v => v / norm).ToArray() : query;
        float? threshold = request.HasScoreThreshold ? request.ScoreThreshold : null;
        var hits = c.Points
            .Where(p => Matches(request.Filter, p.Key, p.Value.Payload))
            .Select(p => (p.Key, p.Value, Score: unit.Zip(p.Value.Vector, (a, b) => a * b).Sum()))
            .Where(h => threshold is null || h.Score >= threshold)
            .OrderByDescending(h => h.Score)
            .Take(request.HasLimit ? (int)request.Limit : 10);
        var response = new QueryResponse();
        foreach (var (id, point, score) in hits)
        {
            response.Result.Add(new ScoredPoint { Id = PointIdOf(id), Payload = { point.Payload }, Score = score, Version = 0 });
        }

        return response;
    }

    /// <summary>"Scroll points": id order, <c>offset</c> is the first id of the page, <c>next_page_offset</c> the first of the next page or unset.</summary>
    private ScrollResponse Scroll(ScrollPoints request)
    {
        var c = Require(request.CollectionName);
        var limit = request.HasLimit ? (int)request.Limit : 10;
        var offset = request.Offset is null ? null : IdText(request.Offset);
        var candidates = c.Points
            .Where(p => offset is null || string.CompareOrdinal(p.Key, offset) >= 0)
            .Where(p => Matches(request.Filter, p.Key, p.Value.Payload))
            .Take(limit + 1)
            .ToList();
        var response = new ScrollResponse();
        foreach (var (id, point) in candidates.Take(limit))
        {
            response.Result.Add(new RetrievedPoint { Id = PointIdOf(id), Payload = { point.Payload } });
        }

        if (candidates.Count > limit)
        {
            response.NextPageOffset = PointIdOf(candidates[limit].Key);
        }

        return response;
    }

    /// <summary>Qdrant "Filtering": must = AND, must_not = NOR, should = OR; a list payload value matches when any element does.</summary>
    private static bool Matches(Filter? filter, string id, MapField<string, Value> payload) =>
        filter is null
        || (filter.Must.All(c => Holds(c, id, payload))
            && !filter.MustNot.Any(c => Holds(c, id, payload))
            && (filter.Should.Count == 0 || filter.Should.Any(c => Holds(c, id, payload))));

    private static bool Holds(Condition condition, string id, MapField<string, Value> payload)
    {
        switch (condition.ConditionOneOfCase)
        {
            case global::Qdrant.Client.Grpc.Condition.ConditionOneOfOneofCase.HasId:
                return condition.HasId.HasId.Any(i => string.Equals(IdText(i), id, StringComparison.OrdinalIgnoreCase));
            case global::Qdrant.Client.Grpc.Condition.ConditionOneOfOneofCase.Filter:
                return Matches(condition.Filter, id, payload);
            case global::Qdrant.Client.Grpc.Condition.ConditionOneOfOneofCase.Field:
                break;
            default:
                throw new RpcException(new Status(StatusCode.Unimplemented, $"The fake does not evaluate {condition.ConditionOneOfCase}"));
        }

        var field = condition.Field;
        if (!payload.TryGetValue(field.Key, out var stored))
        {
            return false;
        }

        var values = stored.KindCase == Value.KindOneofCase.ListValue ? stored.ListValue.Values.ToList() : [stored];
        if (field.Match is { } match)
        {
            return match.MatchValueCase switch
            {
                Match.MatchValueOneofCase.Keyword => values.Any(v => v.KindCase == Value.KindOneofCase.StringValue && v.StringValue == match.Keyword),
                Match.MatchValueOneofCase.Integer => values.Any(v => v.KindCase == Value.KindOneofCase.IntegerValue && v.IntegerValue == match.Integer),
                Match.MatchValueOneofCase.Boolean => values.Any(v => v.KindCase == Value.KindOneofCase.BoolValue && v.BoolValue == match.Boolean),
                Match.MatchValueOneofCase.Keywords => values.Any(v => v.KindCase == Value.KindOneofCase.StringValue && match.Keywords.Strings.Contains(v.StringValue)),
                Match.MatchValueOneofCase.Integers => values.Any(v => v.KindCase == Value.KindOneofCase.IntegerValue && match.Integers.Integers.Contains(v.IntegerValue)),
                _ => throw new RpcException(new Status(StatusCode.Unimplemented, $"The fake does not match {match.MatchValueCase}")),
            };
        }

        if (field.Range is { } range)
        {
            return values.Any(v => Number(v) is { } n
                && (!range.HasGte || n >= range.Gte) && (!range.HasLte || n <= range.Lte)
                && (!range.HasGt || n > range.Gt) && (!range.HasLt || n < range.Lt));
        }

        return false;
    }

    private static double? Number(Value value) => value.KindCase switch
    {
        Value.KindOneofCase.IntegerValue => value.IntegerValue,
        Value.KindOneofCase.DoubleValue => value.DoubleValue,
        _ => null,
    };

#pragma warning disable CS0612 // Vector.Data is the deprecated form older clients send; read it too.
    private static float[] Dense(Vector vector) =>
        vector.VectorCase == Vector.VectorOneofCase.Dense ? [.. vector.Dense.Data] : [.. vector.Data];
#pragma warning restore CS0612

    private static VectorsOutput Output(float[] vector) =>
        new() { Vector = new VectorOutput { Dense = new DenseVector { Data = { vector } } } };

    private static string IdText(PointId id) =>
        id.PointIdOptionsCase == PointId.PointIdOptionsOneofCase.Num
            ? id.Num.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : Guid.TryParse(id.Uuid, out var uuid) ? uuid.ToString("D")
            : throw new RpcException(new Status(StatusCode.InvalidArgument, $"Unable to parse UUID: {id.Uuid}"));

    private static PointId PointIdOf(string text) =>
        ulong.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var number) ? new PointId { Num = number } : new PointId { Uuid = text };

    /// <summary>Every call that names a collection accepts an alias of it too ("Collection aliases").</summary>
    private bool TryGet(string name, out FakeCollectionState collection) =>
        _collections.TryGetValue(_aliases.GetValueOrDefault(name) ?? name, out collection!);

    private FakeCollectionState Require(string name) => TryGet(name, out var c) ? c : throw NotFound(name);

    private static RpcException NotFound(string name) => new(new Status(StatusCode.NotFound, $"Not found: Collection `{name}` doesn't exist!"));

    private static HttpResponseMessage Ok(IMessage answer)
    {
        var bytes = answer.ToByteArray();
        var frame = new byte[5 + bytes.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1, 4), (uint)bytes.Length);
        bytes.CopyTo(frame, 5);
        var response = new HttpResponseMessage(HttpStatusCode.OK) { Version = HttpVersion.Version20, Content = new ByteArrayContent(frame) };
        response.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        response.TrailingHeaders.Add("grpc-status", "0");
        return response;
    }

    /// <summary>An error as servers send it: "trailers-only", the status in the response headers and no body.</summary>
    private static HttpResponseMessage StatusAnswer(StatusCode code, string detail, IReadOnlyDictionary<string, string>? trailers = null)
    {
        var response = new HttpResponseMessage(HttpStatusCode.OK) { Version = HttpVersion.Version20, Content = new ByteArrayContent([]) };
        response.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        response.Headers.Add("grpc-status", ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture));
        response.Headers.Add("grpc-message", Uri.EscapeDataString(detail));
        foreach (var (name, value) in trailers ?? new Dictionary<string, string>())
        {
            response.Headers.Add(name, value);
        }

        return response;
    }

    /// <summary>One per HTTP client pipeline, so the factory's handler chains never share an instance.</summary>
    private sealed class Forwarder(FakeQdrantTransport fake) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            fake.SendAsync(request, cancellationToken);
    }
}
