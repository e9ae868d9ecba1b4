using System.Runtime.InteropServices;
using System.Text;
using ImageRetrieval.Infrastructure.Abstractions;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace ImageRetrieval.Infrastructure.VectorStores.Local;

/// <summary>What the database says about its collection: the descriptor, the epoch (new on every
/// create/recreate), the sequence of the last committed change and the vector segment's committed slots.</summary>
internal sealed record DatabaseState(CollectionDescriptor Descriptor, Guid Epoch, long Sequence, long Slots = 0);

/// <summary>
/// The durable half of the Local store: one SQLite file per collection. WAL with
/// <c>synchronous=FULL</c> fsyncs the log on every commit, so a write that returned survives kill -9
/// and power loss. Every committed batch gets the next sequence number, stored on its rows (and on the
/// tombstones of deleted ids), so a snapshot of memory at sequence S is brought up to date by replaying
/// what came after S. All access goes through one connection, serialised by <see cref="_gate"/>.
/// Vectors live in the <see cref="LocalVectorSegment"/> beside the file. A row of <c>rows</c> is keyed
/// by its slot there (<c>INTEGER PRIMARY KEY</c>, so a batch appends to one end of one B-tree) and has
/// no index on its id: with random (SHA-256) ids that index was most of a bulk fill, each batch of 1000
/// dirtying ~1000 of its leaf pages. Memory knows every id's slot, so overwrites and deletes address
/// the old row by slot, and listing in id order is served from memory. Rows of the older
/// <c>records</c> table (keyed by id, vectors in SQLite or in the segment) move to <c>rows</c> on open.
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
        CREATE TABLE IF NOT EXISTS tombstones (
            id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS rows (
            slot INTEGER PRIMARY KEY,
            id TEXT NOT NULL,
            metadata TEXT NOT NULL,
            seq INTEGER NOT NULL
        );
        """;

    // Columns added after the first release; ALTER TABLE brings older files forward on open.
    private static readonly (string Table, string Column, string Definition)[] AddedColumns =
    [
        ("collection", "epoch", "TEXT NOT NULL DEFAULT ''"),
        ("collection", "seq", "INTEGER NOT NULL DEFAULT 0"),
        ("records", "seq", "INTEGER NOT NULL DEFAULT 0"),
        ("records", "slot", "INTEGER NOT NULL DEFAULT -1"),
        ("collection", "slots", "INTEGER NOT NULL DEFAULT 0"),
    ];

    /// <summary>Rows per INSERT statement in a batch; 4 parameters a row stays far below SQLite's 32766.</summary>
    internal const int RowsPerInsert = 128;

    /// <summary>Rows a compaction copies into its renumbered table per statement (each its own short hold of the connection).</summary>
    private const int CompactChunkRows = 16384;

    /// <summary>Times an open reads the state again when a compaction by another process moved the segment's epoch under it.</summary>
    private const int ConsistentReadAttempts = 5;

    private readonly SqliteConnection _connection;
    private readonly Lock _gate = new();
    private LocalVectorSegment? _segment;
    private sqlite3_stmt? _insertMany;
    private sqlite3_stmt? _insertOne;
    private byte[] _idBytes = new byte[256];
    private Guid _segmentEpoch;

    // What a compaction's statements renumber by (see CompactedSlot): new slot i holds old slot _compactedSlots[i].
    private long[] _compactedSlots = [];

    // The read transaction of ReadConsistent while it runs: the reads of an open join it (a command on a
    // connection with a transaction must name it).
    private SqliteTransaction? _snapshot;

    private LocalVectorDatabase(SqliteConnection connection, string path)
    {
        _connection = connection;
        Path = path;
        connection.CreateFunction<long, long>("compacted_slot", CompactedSlot, isDeterministic: false);
    }

    public string Path { get; }

    /// <summary>The open vector segment (after <see cref="OpenSegment"/>): memory reads the rows' vectors from it.</summary>
    public LocalVectorSegment Segment => _segment ?? throw new InvalidOperationException($"{Path} has no vector segment open; call EnsureCollectionAsync first.");

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

            // The primary-key index of random (SHA-256) ids is written at random places: a batch of 1000
            // new ids dirties ~1000 of its leaf pages (so pages stay at the default 4 KiB; 16 KiB pages
            // made that four times the bytes). A cache that holds the whole index (~70 MB at 1M rows)
            // saves re-reading those pages, and checkpointing every 256 MB instead of every 4 MB writes a
            // page that several batches dirtied once, with fewer fsyncs (a third less commit time in a
            // bulk fill than at 64 MB; a crash leaves at most that much log to recover on the next open).
            Execute(connection, "PRAGMA cache_size=-131072;");
            Execute(connection, "PRAGMA wal_autocheckpoint=65536;");
            Execute(connection, "PRAGMA journal_size_limit=67108864;");
            Execute(connection, Schema);
            EnsureSequenceIndex(connection);
            Migrate(connection);
            Execute(connection, "CREATE INDEX IF NOT EXISTS records_seq ON records (seq);");
            return new LocalVectorDatabase(connection, path);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public DatabaseState? ReadState()
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.Transaction = _snapshot;
            command.CommandText = "SELECT name, model_id, dimension, epoch, seq, slots FROM collection WHERE singleton = 1;";
            using var reader = command.ExecuteReader();
            if (!reader.Read())
            {
                return null;
            }

            var descriptor = new CollectionDescriptor(reader.GetString(0), reader.GetString(1), reader.GetInt32(2));
            var epoch = Guid.TryParse(reader.GetString(3), out var parsed) ? parsed : Guid.Empty;
            return new DatabaseState(descriptor, epoch, reader.GetInt64(4), reader.GetInt64(5));
        }
    }

    /// <summary>
    /// Runs <paramref name="read"/> on one state of the file: the collection row (epoch, sequence, committed
    /// slots), the rows and the vector segment of that epoch, the first two in one SQLite read transaction
    /// and the segment opened inside it. Why: a compaction in the process that writes the file commits a new
    /// epoch with every row renumbered, then renames the new segment over the old one; a reader (a re-index
    /// or search beside the service) that read the slot count, the rows and the segment in separate steps
    /// could pair rows of one state with vectors of the other. A file opened (by handle) stays the one
    /// opened after a rename, and a segment whose epoch is not the state's means the rename came between
    /// the state and the open: the state is read again.
    /// </summary>
    /// <param name="finishCompaction">Whether this process writes the file (see <see cref="OpenSegment"/>).</param>
    /// <param name="read">Reads the rows (through this database's read methods) of the state it is given (null: no collection).</param>
    /// <param name="stateRead">Called with each attempt's number once its state is read and before its segment is opened (tests let another process compact there).</param>
    public T ReadConsistent<T>(bool finishCompaction, Func<DatabaseState?, T> read, Action<int>? stateRead = null)
    {
        lock (_gate)
        {
            // Rows of the older id-keyed table move first (a write, so outside the read transaction); only
            // files from before the segment have any, and no compaction runs before they moved.
            if (HasLegacyRows() && ReadState() is { } legacy)
            {
                OpenSegment(legacy, finishCompaction);
            }

            for (var attempt = 1; ; attempt++)
            {
                using var transaction = _connection.BeginTransaction(deferred: true);
                _snapshot = transaction;
                try
                {
                    var state = ReadState();
                    if (state is null)
                    {
                        return read(null);
                    }

                    stateRead?.Invoke(attempt);
                    try
                    {
                        OpenSegmentOf(state, finishCompaction);
                    }
                    catch (IOException) when (!finishCompaction && attempt < ConsistentReadAttempts)
                    {
                        continue;
                    }

                    return read(state);
                }
                finally
                {
                    _snapshot = null;
                }
            }
        }
    }

    /// <summary>
    /// Opens (or, after a recreate, starts afresh) the vector segment of <paramref name="state"/>'s epoch.
    /// Called once the collection row exists, before any write or read of vectors.
    /// </summary>
    /// <param name="finishCompaction">Whether to finish (or remove) what a compaction that stopped left (only the directory's writer may).</param>
    public void OpenSegment(DatabaseState state, bool finishCompaction = true)
    {
        lock (_gate)
        {
            OpenSegmentOf(state, finishCompaction);
            MoveLegacyRows(_segment!);
        }
    }

    private void OpenSegmentOf(DatabaseState state, bool finishCompaction)
    {
        if (_segment is not null && _segmentEpoch == state.Epoch && _segment.Dimension == state.Descriptor.Dimension)
        {
            if (_segment.Committed < state.Slots)
            {
                _segment.Commit(state.Slots);
            }

            return;
        }

        _segment?.Dispose();
        _segment = null;
        _segment = LocalVectorSegment.Open(LocalVectorSegment.PathFor(Path), state.Descriptor.Dimension, state.Epoch, state.Slots, finishCompaction);
        _segmentEpoch = state.Epoch;
    }

    private bool HasLegacyRows()
    {
        using var probe = _connection.CreateCommand();
        probe.CommandText = "SELECT EXISTS (SELECT 1 FROM records);";
        return (long)probe.ExecuteScalar()! != 0;
    }

    /// <summary>
    /// Moves the rows of the id-keyed <c>records</c> table to <c>rows</c>: those whose vector is still in
    /// SQLite get a segment slot first (written and fsynced before the one transaction that moves them
    /// all), the rest keep theirs. A crash before the commit leaves <c>records</c> as it was.
    /// </summary>
    private void MoveLegacyRows(LocalVectorSegment segment)
    {
        if (!HasLegacyRows())
        {
            return;
        }

        var expected = segment.Dimension * sizeof(float);
        var moved = new List<(long Slot, string Id, string Metadata, long Seq)>();
        var next = segment.Committed;
        var buffer = new byte[expected];
        using (var read = _connection.CreateCommand())
        {
            read.CommandText = "SELECT id, vector, metadata, seq, slot FROM records;";
            using var reader = read.ExecuteReader();
            while (reader.Read())
            {
                var id = reader.GetString(0);
                var slot = reader.GetInt64(4);
                if (slot < 0)
                {
                    if (reader.GetBytes(1, 0, null, 0, 0) != expected)
                    {
                        throw new InvalidDataException($"Record '{id}' in {Path} does not have {segment.Dimension} dimensions.");
                    }

                    reader.GetBytes(1, 0, buffer, 0, expected);
                    slot = segment.Stage(MemoryMarshal.Cast<byte, float>(buffer.AsSpan()), next++, flush: false);
                }

                moved.Add((slot, id, reader.GetString(2), reader.GetInt64(3)));
            }
        }

        segment.Flush();
        using var transaction = _connection.BeginTransaction();
        using var insert = _connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = "INSERT INTO rows (slot, id, metadata, seq) VALUES ($slot, $id, $metadata, $seq);";
        var slotParameter = insert.Parameters.Add("$slot", SqliteType.Integer);
        var idParameter = insert.Parameters.Add("$id", SqliteType.Text);
        var metadataParameter = insert.Parameters.Add("$metadata", SqliteType.Text);
        var seqParameter = insert.Parameters.Add("$seq", SqliteType.Integer);
        foreach (var (slot, id, metadata, seq) in moved)
        {
            (slotParameter.Value, idParameter.Value, metadataParameter.Value, seqParameter.Value) = (slot, id, metadata, seq);
            insert.ExecuteNonQuery();
        }

        using var finish = _connection.CreateCommand();
        finish.Transaction = transaction;
        finish.CommandText = "DELETE FROM records; UPDATE collection SET slots = $slots WHERE singleton = 1;";
        finish.Parameters.AddWithValue("$slots", next);
        finish.ExecuteNonQuery();
        transaction.Commit();
        segment.Commit(next);
    }

    /// <summary>
    /// Replaces the descriptor; with <paramref name="dropRecords"/> also empties the collection and starts
    /// a new epoch (so no snapshot of the old contents can be taken for the new), in one transaction.
    /// A database from before epochs gets one here too.
    /// </summary>
    public DatabaseState WriteDescriptor(CollectionDescriptor descriptor, bool dropRecords)
    {
        lock (_gate)
        {
            var current = ReadState();
            var epoch = dropRecords || current is null || current.Epoch == Guid.Empty ? Guid.NewGuid() : current.Epoch;
            var sequence = dropRecords ? 0 : current?.Sequence ?? 0;
            var slots = dropRecords ? 0 : current?.Slots ?? 0;
            using var transaction = _connection.BeginTransaction();
            using var command = _connection.CreateCommand();
            command.Transaction = transaction;
            if (dropRecords)
            {
                command.CommandText = "DELETE FROM records; DELETE FROM rows; DELETE FROM tombstones;";
                command.ExecuteNonQuery();
            }

            command.CommandText = """
                INSERT INTO collection (singleton, name, model_id, dimension, epoch, seq, slots) VALUES (1, $name, $model, $dimension, $epoch, $seq, $slots)
                ON CONFLICT (singleton) DO UPDATE SET name = excluded.name, model_id = excluded.model_id, dimension = excluded.dimension,
                    epoch = excluded.epoch, seq = excluded.seq, slots = excluded.slots;
                """;
            command.Parameters.AddWithValue("$name", descriptor.Name);
            command.Parameters.AddWithValue("$model", descriptor.ModelId);
            command.Parameters.AddWithValue("$dimension", descriptor.Dimension);
            command.Parameters.AddWithValue("$epoch", epoch.ToString("N"));
            command.Parameters.AddWithValue("$seq", sequence);
            command.Parameters.AddWithValue("$slots", slots);
            command.ExecuteNonQuery();
            transaction.Commit();
            return new DatabaseState(descriptor, epoch, sequence, slots);
        }
    }

    /// <summary>Streams every stored row (id, slot, vector, metadata) to <paramref name="load"/>.</summary>
    public void ReadAll(Action<string, long, ReadOnlySpan<float>, string> load) =>
        Read("SELECT id, metadata, slot FROM rows;", null, load);

    /// <summary>Rows written by batches after <paramref name="afterSequence"/>.</summary>
    public void ReadChangedSince(long afterSequence, Action<string, long, ReadOnlySpan<float>, string> load) =>
        Read("SELECT id, metadata, slot FROM rows WHERE seq > $after;", afterSequence, load);

    /// <summary>Ids deleted after <paramref name="afterSequence"/> (and not written again since).</summary>
    public List<string> ReadDeletedSince(long afterSequence)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.Transaction = _snapshot;
            command.CommandText = "SELECT id FROM tombstones WHERE seq > $after;";
            command.Parameters.AddWithValue("$after", afterSequence);
            return ReadIds(command, 16);
        }
    }

    public long CountRecords()
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.Transaction = _snapshot;
            command.CommandText = "SELECT count(*) FROM rows;";
            return (long)command.ExecuteScalar()!;
        }
    }

    /// <summary>Tombstones up to a sequence that a durable snapshot covers are no longer needed to replay.</summary>
    public void PruneTombstones(long upToSequence)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "DELETE FROM tombstones WHERE seq <= $upTo;";
            command.Parameters.AddWithValue("$upTo", upToSequence);
            command.ExecuteNonQuery();
        }
    }

    /// <summary>
    /// Inserts every row of <paramref name="batch"/> (ids distinct within it): one transaction records the
    /// new rows with their slots and deletes the rows they replace (the earlier writes of these ids, by the
    /// slots memory holds for them), so the batch is durable or absent. Returns the batch's sequence and the first
    /// row's slot (row i has the i-th slot after it).
    /// </summary>
    /// <remarks>
    /// The batch prepares its rows and writes their vectors to the segment on other threads while the
    /// statements run (each INSERT waits only for the rows it binds), and the COMMIT waits for the
    /// segment's fsync: a row SQLite shows still always has its vector on disk.
    /// </remarks>
    /// <param name="inserted">Called once every row is in the transaction, before the waits for the segment's fsync and the commit.</param>
    public (long Sequence, long FirstSlot) Upsert(PreparedBatch batch, Action? inserted = null)
    {
        lock (_gate)
        {
            var segment = _segment ?? throw new InvalidOperationException($"{Path} has no vector segment open; call EnsureCollectionAsync first.");

            // A crash or a failed commit from here on leaves these slots past the committed count: never named, overwritten next time.
            var first = segment.Committed;
            if (batch.FirstSlot != first)
            {
                throw new InvalidOperationException($"The batch was staged at slot {batch.FirstSlot}, but {Path} has {first} committed slots.");
            }

            var slots = first + batch.Rows.Length;
            try
            {
                return (UpsertRows(batch, segment, slots, inserted), first);
            }
            catch
            {
                // The caller reuses the batch's buffers as soon as this returns: no thread may still write them.
                batch.Stop();

                // Should SQLite have committed after all, the next append must not overwrite what it names.
                try
                {
                    segment.Commit(Math.Max(segment.Committed, ReadState()?.Slots ?? 0));
                }
                catch (SqliteException)
                {
                    // The original failure is the one to report.
                }

                throw;
            }
        }
    }

    /// <summary>Deletes the rows (by the slots memory holds for them) and leaves a tombstone per id, in one transaction. Returns the batch's sequence.</summary>
    public long Delete(IEnumerable<(string Id, long Slot)> rows)
    {
        lock (_gate)
        {
            using var transaction = _connection.BeginTransaction();
            var sequence = NextSequence(transaction, null);
            using var command = _connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                DELETE FROM rows WHERE slot = $slot;
                INSERT INTO tombstones (id, seq) VALUES ($id, $seq) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq;
                """;
            var id = command.Parameters.Add("$id", SqliteType.Text);
            var slot = command.Parameters.Add("$slot", SqliteType.Integer);
            command.Parameters.AddWithValue("$seq", sequence);
            foreach (var row in rows)
            {
                (id.Value, slot.Value) = (row.Id, row.Slot);
                command.ExecuteNonQuery();
            }

            transaction.Commit();
            return sequence;
        }
    }

    /// <summary>
    /// The slots the rows name, ascending (what a compaction keeps), and the segment's committed slot count
    /// at that moment: every slot written later is at or past it.
    /// </summary>
    public (long[] Slots, long Committed) ReadLiveSlots()
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM rows;";
            var slots = new long[(long)command.ExecuteScalar()!];
            command.CommandText = "SELECT slot FROM rows ORDER BY slot;";
            using var reader = command.ExecuteReader();
            var count = 0;
            while (reader.Read())
            {
                slots[count++] = reader.GetInt64(0);
            }

            return count == slots.Length ? (slots, Segment.Committed) : throw new InvalidDataException($"{Path} changed while its slots were read.");
        }
    }

    /// <summary>The slots of the rows at or past <paramref name="from"/>, ascending: what was written since <see cref="ReadLiveSlots"/>.</summary>
    public long[] ReadSlotsFrom(long from)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT slot FROM rows WHERE slot >= $from ORDER BY slot;";
            command.Parameters.AddWithValue("$from", from);
            var slots = new List<long>();
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                slots.Add(reader.GetInt64(0));
            }

            return [.. slots];
        }
    }

    /// <summary>
    /// The slow half of a compaction's renumbering, beside writes: a new table <c>rows_compacted</c> with
    /// the rows of <paramref name="liveSlots"/> (from <see cref="ReadLiveSlots"/>), each at its rank among
    /// them, copied a chunk of slots per statement so writes get the connection between chunks. A row
    /// deleted meanwhile is copied or not, depending on the chunk's moment; <see cref="CommitCompaction"/>
    /// settles both. Nothing reads the table before that commit, and a stop leaves it to the next compaction.
    /// </summary>
    public void PrepareCompaction(long[] liveSlots, Guid epoch, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var command = _connection.CreateCommand();

            // The index first: filled row by row with the chunks (sequences grow with slots, so mostly appends),
            // not built in one long statement later.
            command.CommandText = $"""
                DROP TABLE IF EXISTS rows_compacted;
                CREATE TABLE rows_compacted (
                    slot INTEGER PRIMARY KEY,
                    id TEXT NOT NULL,
                    metadata TEXT NOT NULL,
                    seq INTEGER NOT NULL
                );
                CREATE INDEX rows_seq_{epoch:N} ON rows_compacted (seq);
                """;
            command.ExecuteNonQuery();
        }

        for (var start = 0; start < liveSlots.Length; start += CompactChunkRows)
        {
            var last = Math.Min(start + CompactChunkRows, liveSlots.Length) - 1;
            lock (_gate)
            {
                // Under the gate: Dispose cancels before it closes the connection, which it does under the gate.
                cancellationToken.ThrowIfCancellationRequested();
                _compactedSlots = liveSlots;
                using var command = _connection.CreateCommand();
                command.CommandText = """
                    INSERT INTO rows_compacted (slot, id, metadata, seq)
                        SELECT compacted_slot(slot), id, metadata, seq FROM rows WHERE slot >= $first AND slot <= $last ORDER BY slot;
                    """;
                command.Parameters.AddWithValue("$first", liveSlots[start]);
                command.Parameters.AddWithValue("$last", liveSlots[last]);
                command.ExecuteNonQuery();
            }
        }
    }

    /// <summary>Drops the renumbered table of a compaction that did not commit (else the next compaction does).</summary>
    public void DiscardCompaction()
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "DROP TABLE IF EXISTS rows_compacted;";
            command.ExecuteNonQuery();
        }
    }

    /// <summary>
    /// The commit point of a compaction whose new segment (new slot <c>i</c> holding the vector of old slot
    /// <paramref name="slots"/>[i], with <paramref name="epoch"/> in its header) is durable beside the old
    /// one, and whose rows <see cref="PrepareCompaction"/> copied up to <paramref name="appendedFrom"/>: in
    /// one transaction the rows deleted since leave the new table (<paramref name="removedSlots"/>, new
    /// slots no row names any more), the rows written since join it, it replaces <c>rows</c>, the committed
    /// slot count becomes the new segment's and the collection gets the new epoch (so no vector file that
    /// names old slots is read again). Refused, with nothing changed, when the new table would not hold
    /// exactly the rows.
    /// </summary>
    public void CommitCompaction(long[] slots, IReadOnlyList<long> removedSlots, long appendedFrom, Guid epoch)
    {
        lock (_gate)
        {
            _compactedSlots = slots;
            using var transaction = _connection.BeginTransaction();
            using var command = _connection.CreateCommand();
            command.Transaction = transaction;
            if (removedSlots.Count > 0)
            {
                command.CommandText = "DELETE FROM rows_compacted WHERE slot = $slot;";
                var slot = command.Parameters.Add("$slot", SqliteType.Integer);
                foreach (var removed in removedSlots)
                {
                    slot.Value = removed;
                    command.ExecuteNonQuery();
                }

                command.Parameters.Clear();
            }

            // A row past the copied slots that is not among the planned ones fails the statement (see CompactedSlot).
            command.CommandText = """
                INSERT INTO rows_compacted (slot, id, metadata, seq)
                    SELECT compacted_slot(slot), id, metadata, seq FROM rows WHERE slot >= $from ORDER BY slot;
                """;
            command.Parameters.AddWithValue("$from", appendedFrom);
            command.ExecuteNonQuery();
            command.CommandText = "SELECT (SELECT count(*) FROM rows_compacted) - (SELECT count(*) FROM rows);";
            if ((long)command.ExecuteScalar()! != 0)
            {
                throw new InvalidDataException($"{Path} holds other rows than the compaction copied.");
            }

            command.Parameters.Clear();
            command.CommandText = """
                DROP TABLE rows;
                ALTER TABLE rows_compacted RENAME TO rows;
                UPDATE collection SET slots = $slots, epoch = $epoch WHERE singleton = 1;
                """;
            command.Parameters.AddWithValue("$slots", slots.Length);
            command.Parameters.AddWithValue("$epoch", epoch.ToString("N"));
            command.ExecuteNonQuery();
            transaction.Commit();
        }
    }

    /// <summary>After <see cref="CommitCompaction"/>: the compacted segment, renamed over the old file and mapped (see <see cref="LocalVectorSegment.OpenCompacted"/>).</summary>
    public LocalVectorSegment OpenCompactedSegment(Guid epoch, long slots) => Segment.OpenCompacted(epoch, slots);

    /// <summary>The segment reads the compacted file from now on (under the store's exclusive lock); <paramref name="next"/> is left with the old one, to dispose.</summary>
    public void AdoptCompactedSegment(LocalVectorSegment next, Guid epoch)
    {
        lock (_gate)
        {
            Segment.TakeOver(next);
            _segmentEpoch = epoch;
        }
    }

    /// <summary>
    /// SQL function <c>compacted_slot(slot)</c>: the new slot of a row at old <c>slot</c> (its rank among the
    /// slots the compaction keeps); a row at any other slot fails the statement, and the compaction with it.
    /// </summary>
    private long CompactedSlot(long slot)
    {
        var at = Array.BinarySearch(_compactedSlots, slot);
        return at >= 0 ? at : throw new InvalidDataException($"A row of {Path} is at slot {slot}, which the compaction did not copy.");
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
            // Statements first: a connection with unfinalised statements does not close its file.
            _insertMany?.Dispose();
            _insertOne?.Dispose();
            _insertMany = _insertOne = null;
            _connection.Dispose();
            _segment?.Dispose();
            _segment = null;
        }
    }

    private long UpsertRows(PreparedBatch batch, LocalVectorSegment segment, long slots, Action? inserted)
    {
        var rows = batch.Rows;
        var first = slots - rows.Length;
        using var transaction = _connection.BeginTransaction();
        var sequence = NextSequence(transaction, slots);
        InsertRows(batch, first, sequence);

        // After the inserts, which need no more than their own rows prepared (the replaced slots are all older than these).
        var replacedSlots = batch.ReplacedSlots();
        if (replacedSlots.Count > 0)
        {
            using var replace = _connection.CreateCommand();
            replace.Transaction = transaction;
            replace.CommandText = "DELETE FROM rows WHERE slot = $slot;";
            var slot = replace.Parameters.Add("$slot", SqliteType.Integer);
            foreach (var replaced in replacedSlots)
            {
                slot.Value = replaced;
                replace.ExecuteNonQuery();
            }
        }

        // An id written again is no longer deleted; the common case (no tombstones at all) skips the lookups.
        using var resurrect = _connection.CreateCommand();
        resurrect.Transaction = transaction;
        resurrect.CommandText = "SELECT EXISTS (SELECT 1 FROM tombstones);";
        if ((long)resurrect.ExecuteScalar()! != 0)
        {
            resurrect.CommandText = "DELETE FROM tombstones WHERE id = $id;";
            var resurrected = resurrect.Parameters.Add("$id", SqliteType.Text);
            foreach (var row in rows)
            {
                resurrected.Value = row.Id;
                resurrect.ExecuteNonQuery();
            }
        }

        inserted?.Invoke();

        // The vectors must be on disk before the rows that name them are (an exception here rolls back).
        batch.Staged.GetAwaiter().GetResult();
        batch.BeforeCommit();
        transaction.Commit();
        segment.Commit(slots);
        return sequence;
    }

    /// <summary>
    /// Inserts the batch's rows, row i at slot <paramref name="first"/> + i, in groups of
    /// <see cref="RowsPerInsert"/> per statement (one call into SQLite per group) and the rest one by one,
    /// each group as soon as the batch has prepared it.
    /// The statements are prepared once per connection and bound by position through SQLite's own API:
    /// through ADO.NET every execution looked each of a statement's ~400 parameters up by name (a linear
    /// search in SQLite) and converted every id and name to UTF-8, which was most of the statements' cost
    /// in a bulk fill. Same SQL, same values, same column types (the metadata goes in as the UTF-8 BLOB it is).
    /// </summary>
    private void InsertRows(PreparedBatch batch, long first, long sequence)
    {
        var rows = batch.Rows;
        var db = _connection.Handle ?? throw new InvalidOperationException($"{Path} is closed.");
        var start = 0;
        if (rows.Length >= RowsPerInsert)
        {
            var many = _insertMany ??= PrepareInsert(db, RowsPerInsert);
            for (; start + RowsPerInsert <= rows.Length; start += RowsPerInsert)
            {
                batch.WaitRows(start + RowsPerInsert);
                for (var r = 0; r < RowsPerInsert; r++)
                {
                    BindRow(db, many, r, rows[start + r], first + start + r, sequence);
                }

                Step(db, many);
            }
        }

        if (start < rows.Length)
        {
            batch.WaitRows(rows.Length);
            var one = _insertOne ??= PrepareInsert(db, 1);
            for (; start < rows.Length; start++)
            {
                BindRow(db, one, 0, rows[start], first + start, sequence);
                Step(db, one);
            }
        }
    }

    private static sqlite3_stmt PrepareInsert(sqlite3 db, int rows)
    {
        var sql = new System.Text.StringBuilder("INSERT INTO rows (slot, id, metadata, seq) VALUES ");
        for (var r = 0; r < rows; r++)
        {
            sql.Append(r == 0 ? "(?,?,?,?)" : ",(?,?,?,?)");
        }

        var rc = raw.sqlite3_prepare_v2(db, sql.Append(';').ToString(), out var statement);
        if (rc != raw.SQLITE_OK)
        {
            statement.Dispose();
            SqliteException.ThrowExceptionForRC(rc, db);
        }

        return statement;
    }

    /// <summary>Binds row <paramref name="r"/> of a statement: parameters 4r+1..4r+4 are slot, id, metadata, seq.</summary>
    private void BindRow(sqlite3 db, sqlite3_stmt statement, int r, LocalVectorStore.PreparedRow row, long slot, long sequence)
    {
        var at = (4 * r) + 1;
        var length = Encoding.UTF8.GetMaxByteCount(row.Id.Length);
        if (_idBytes.Length < length)
        {
            _idBytes = new byte[Math.Max(length, 2 * _idBytes.Length)];
        }

        var id = _idBytes.AsSpan(0, Encoding.UTF8.GetBytes(row.Id, _idBytes));
        Check(db, raw.sqlite3_bind_int64(statement, at, slot));
        Check(db, raw.sqlite3_bind_text(statement, at + 1, id));
        Check(db, raw.sqlite3_bind_blob(statement, at + 2, row.MetadataBytes));
        Check(db, raw.sqlite3_bind_int64(statement, at + 3, sequence));
    }

    /// <summary>Runs a write statement once and resets it for the next binding; a failure is the SqliteException ADO.NET would throw.</summary>
    private static void Step(sqlite3 db, sqlite3_stmt statement)
    {
        var rc = raw.sqlite3_step(statement);
        try
        {
            if (rc != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, db);
            }
        }
        finally
        {
            // After the exception has read the error message: a reset statement holds no lock on the file.
            raw.sqlite3_reset(statement);
        }
    }

    private static void Check(sqlite3 db, int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, db);
        }
    }

    /// <summary>The batch's sequence; with <paramref name="slots"/> also the segment's new committed slot count, in the same transaction.</summary>
    private long NextSequence(SqliteTransaction transaction, long? slots)
    {
        using var command = _connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = slots is null
            ? "UPDATE collection SET seq = seq + 1 WHERE singleton = 1 RETURNING seq;"
            : "UPDATE collection SET seq = seq + 1, slots = $slots WHERE singleton = 1 RETURNING seq;";
        if (slots is { } committed)
        {
            command.Parameters.AddWithValue("$slots", committed);
        }

        return command.ExecuteScalar() is long sequence
            ? sequence
            : throw new InvalidOperationException($"{Path} has no collection row; call EnsureCollectionAsync first.");
    }

    private void Read(string sql, long? afterSequence, Action<string, long, ReadOnlySpan<float>, string> load)
    {
        lock (_gate)
        {
            var segment = _segment ?? throw new InvalidOperationException($"{Path} has no vector segment open.");
            using var command = _connection.CreateCommand();
            command.Transaction = _snapshot;
            command.CommandText = sql;
            if (afterSequence is { } after)
            {
                command.Parameters.AddWithValue("$after", after);
            }

            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var slot = reader.GetInt64(2);
                if (slot >= segment.Committed)
                {
                    // Another process (the owner) committed rows after this one read the slot count (a
                    // re-index reads the active collection beside the service): a row SQLite shows has its
                    // vector fsynced in the segment, so the count is read again rather than refused.
                    segment.Commit(Math.Max(segment.Committed, ReadState()?.Slots ?? 0));
                }

                load(reader.GetString(0), slot, segment.Row(slot), reader.GetString(1));
            }
        }
    }

    /// <summary>The first column of every row the command returns.</summary>
    private static List<string> ReadIds(SqliteCommand command, int capacity)
    {
        var ids = new List<string>(capacity);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }

    /// <summary>
    /// The index of <c>rows</c> by sequence, which replays read by. A compaction builds the renumbered table
    /// with an index of its own (named after its epoch, as the old table's still exists then) that the
    /// table keeps when it becomes <c>rows</c>: any index of that name family counts.
    /// </summary>
    private static void EnsureSequenceIndex(SqliteConnection connection)
    {
        using var probe = connection.CreateCommand();
        probe.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'rows' AND name LIKE 'rows_seq%';";
        if ((long)probe.ExecuteScalar()! == 0)
        {
            Execute(connection, "CREATE INDEX rows_seq ON rows (seq);");
        }
    }

    private static void Migrate(SqliteConnection connection)
    {
        foreach (var (table, column, definition) in AddedColumns)
        {
            using var probe = connection.CreateCommand();
            probe.CommandText = $"SELECT count(*) FROM pragma_table_info('{table}') WHERE name = '{column}';";
            if ((long)probe.ExecuteScalar()! == 0)
            {
                Execute(connection, $"ALTER TABLE {table} ADD COLUMN {column} {definition};");
            }
        }
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
