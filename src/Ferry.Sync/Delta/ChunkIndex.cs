using Ferry.Sync.Chunking;

namespace Ferry.Sync.Delta;

/// <summary>
/// The chunks a receiver already holds, by id: first the old copy of the file being updated, then optionally any other
/// files of the destination tree, so that a renamed or copied file is rebuilt from local data. Files added earlier are
/// preferred when a chunk is found in several places.
/// </summary>
/// <remarks>
/// Memory is one entry (~48 bytes) per distinct (id, file, offset) up to <see cref="MaxLocationsPerChunk"/> locations per
/// id: a file of repeated content (say, zeros) would otherwise make every lookup scan thousands of equal entries.
/// </remarks>
public sealed class ChunkIndex
{
    /// <summary>Locations kept for one id; later ones are dropped (the earlier files are preferred anyway).</summary>
    public const int MaxLocationsPerChunk = 8;

    private readonly List<string> _files = [];
    // Keyed by the low 64 bits, which both id widths carry; entries hold the full id for 128-bit comparisons.
    private readonly Dictionary<ulong, int> _firstEntryByLow64 = [];
    private readonly List<Entry> _entries = [];

    private readonly record struct Entry(ChunkId Id, BasisLocation Location, int Next);

    /// <summary>The files added so far, by <see cref="BasisLocation.FileId"/>.</summary>
    public IReadOnlyList<string> Files => _files;

    /// <summary>Number of locations held.</summary>
    public int Count => _entries.Count;

    /// <summary>Adds the chunks of one file the receiver holds (its chunk list with full ids) and returns the file's id.</summary>
    /// <param name="path">How the receiver names the file; returned in <see cref="Files"/> and never opened here.</param>
    public int AddFile(string path, IEnumerable<Chunk> chunks)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(chunks);
        var fileId = _files.Count;
        _files.Add(path);
        foreach (var chunk in chunks)
            Add(chunk, fileId);
        return fileId;
    }

    private void Add(Chunk chunk, int fileId)
    {
        var key = chunk.Id.Low64;
        var last = -1;
        var kept = 0;
        if (_firstEntryByLow64.TryGetValue(key, out var index))
        {
            for (; index >= 0; index = _entries[index].Next)
            {
                var entry = _entries[index];
                if (entry.Id == chunk.Id && entry.Location.Length == chunk.Length && ++kept >= MaxLocationsPerChunk)
                    return;
                last = index;
            }
        }
        _entries.Add(new Entry(chunk.Id, new BasisLocation(fileId, chunk.Offset, chunk.Length), -1));
        if (last < 0)
            _firstEntryByLow64[key] = _entries.Count - 1;
        else
            _entries[last] = _entries[last] with { Next = _entries.Count - 1 };
    }

    /// <summary>
    /// Finds a held copy of a chunk with this id (compared over <paramref name="width"/>) and length. A location at
    /// <paramref name="continueAt"/> (the file and offset just past the previous copy) wins, so that an unchanged stretch
    /// becomes one long copy; otherwise the earliest added.
    /// </summary>
    public bool TryFind(ChunkId id, int length, ChunkIdWidth width, (int FileId, long Offset)? continueAt, out BasisLocation location)
    {
        location = default;
        if (!_firstEntryByLow64.TryGetValue(id.Low64, out var index))
            return false;
        var found = false;
        for (; index >= 0; index = _entries[index].Next)
        {
            var entry = _entries[index];
            if (entry.Location.Length != length || (width == ChunkIdWidth.Bits128 && entry.Id != id))
                continue;
            if (continueAt is { } next && entry.Location.FileId == next.FileId && entry.Location.Offset == next.Offset)
            {
                location = entry.Location;
                return true;
            }
            if (!found)
            {
                location = entry.Location;
                found = true;
            }
        }
        return found;
    }
}
