using System.Runtime.InteropServices;
using ImageRetrieval.Infrastructure.Abstractions;
using Microsoft.Data.Sqlite;

namespace ImageRetrieval.Infrastructure.VectorStores.Local;

/// <summary>
/// The durable half of the Local store: one SQLite file per collection. WAL with
/// <c>synchronous=FULL</c> fsyncs the log on every commit, so a write that returned survives kill -9
/// and power loss. All access goes through one connection, serialised by <see cref="_gate"/>.
/// </summary>
internal sealed class LocalVectorDatabase : IDisposable
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS collection (
            singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
            name TEXT NOT NULL,
            model_id TEXT NOT NULL,
            dimension INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS records (
            id TEXT PRIMARY KEY,
            vector BLOB NOT NULL,
            metadata TEXT NOT NULL
        );
        """;

    private readonly SqliteConnection _connection;
    private readonly Lock _gate = new();

    private LocalVectorDatabase(SqliteConnection connection, string path)
    {
        _connection = connection;
        Path = path;
    }

    public string Path { get; }

    public static LocalVectorDatabase Open(string path)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            // One long-lived connection per store; pooling would keep the file open after Dispose.
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString();
        var connection = new SqliteConnection(connectionString);
        try
        {
            connection.Open();
            Execute(connection, "PRAGMA journal_mode=WAL;");
            Execute(connection, "PRAGMA synchronous=FULL;");
            Execute(connection, Schema);
            return new LocalVectorDatabase(connection, path);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public CollectionDescriptor? ReadDescriptor()
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT name, model_id, dimension FROM collection WHERE singleton = 1;";
            using var reader = command.ExecuteReader();
            return reader.Read() ? new CollectionDescriptor(reader.GetString(0), reader.GetString(1), reader.GetInt32(2)) : null;
        }
    }

    /// <summary>Replaces the descriptor; with <paramref name="dropRecords"/> also empties the collection, in one transaction.</summary>
    public void WriteDescriptor(CollectionDescriptor descriptor, bool dropRecords)
    {
        lock (_gate)
        {
            using var transaction = _connection.BeginTransaction();
            using var command = _connection.CreateCommand();
            command.Transaction = transaction;
            if (dropRecords)
            {
                command.CommandText = "DELETE FROM records;";
                command.ExecuteNonQuery();
            }

            command.CommandText = """
                INSERT INTO collection (singleton, name, model_id, dimension) VALUES (1, $name, $model, $dimension)
                ON CONFLICT (singleton) DO UPDATE SET name = excluded.name, model_id = excluded.model_id, dimension = excluded.dimension;
                """;
            command.Parameters.AddWithValue("$name", descriptor.Name);
            command.Parameters.AddWithValue("$model", descriptor.ModelId);
            command.Parameters.AddWithValue("$dimension", descriptor.Dimension);
            command.ExecuteNonQuery();
            transaction.Commit();
        }
    }

    /// <summary>Streams every stored row to <paramref name="load"/>; vectors are checked against <paramref name="dimension"/>.</summary>
    public void ReadAll(int dimension, Action<string, ReadOnlySpan<float>, string> load)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT id, vector, metadata FROM records;";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var id = reader.GetString(0);
                var bytes = reader.GetFieldValue<byte[]>(1);
                if (bytes.Length != dimension * sizeof(float))
                {
                    throw new InvalidDataException($"Record '{id}' in {Path} has {bytes.Length / sizeof(float)} dimensions; the collection has {dimension}.");
                }

                load(id, MemoryMarshal.Cast<byte, float>(bytes), reader.GetString(2));
            }
        }
    }

    /// <summary>Inserts or replaces every row in one transaction: the batch is durable or absent.</summary>
    public void Upsert(IReadOnlyList<(string Id, byte[] Vector, string Metadata)> rows)
    {
        lock (_gate)
        {
            using var transaction = _connection.BeginTransaction();
            using var command = _connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                INSERT INTO records (id, vector, metadata) VALUES ($id, $vector, $metadata)
                ON CONFLICT (id) DO UPDATE SET vector = excluded.vector, metadata = excluded.metadata;
                """;
            var id = command.Parameters.Add("$id", SqliteType.Text);
            var vector = command.Parameters.Add("$vector", SqliteType.Blob);
            var metadata = command.Parameters.Add("$metadata", SqliteType.Text);
            command.Prepare();
            foreach (var row in rows)
            {
                id.Value = row.Id;
                vector.Value = row.Vector;
                metadata.Value = row.Metadata;
                command.ExecuteNonQuery();
            }

            transaction.Commit();
        }
    }

    public void Delete(IEnumerable<string> ids)
    {
        lock (_gate)
        {
            using var transaction = _connection.BeginTransaction();
            using var command = _connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "DELETE FROM records WHERE id = $id;";
            var id = command.Parameters.Add("$id", SqliteType.Text);
            command.Prepare();
            foreach (var value in ids)
            {
                id.Value = value;
                command.ExecuteNonQuery();
            }

            transaction.Commit();
        }
    }

    /// <summary>Ids after <paramref name="after"/> in SQLite's BINARY (byte-wise UTF-8) order, which the primary key index serves directly.</summary>
    public List<string> ListIds(string? after, int limit)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = after is null
                ? "SELECT id FROM records ORDER BY id LIMIT $limit;"
                : "SELECT id FROM records WHERE id > $after ORDER BY id LIMIT $limit;";
            command.Parameters.AddWithValue("$limit", limit);
            if (after is not null)
            {
                command.Parameters.AddWithValue("$after", after);
            }

            var ids = new List<string>(Math.Min(limit, 1024));
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                ids.Add(reader.GetString(0));
            }

            return ids;
        }
    }

    /// <summary>Touches the file through SQLite: fails when the file is gone, locked or corrupt.</summary>
    public void Ping()
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM collection;";
            command.ExecuteScalar();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _connection.Dispose();
        }
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
