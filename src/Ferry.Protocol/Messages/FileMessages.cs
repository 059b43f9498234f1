using System.Text.Json.Serialization;
using Ferry.Protocol.Framing;

namespace Ferry.Protocol.Messages;

/// <summary>
/// Opens an upload (docs/protocol.md §5.2). No body. Answered by <see cref="PutReadyMessage"/> or an error
/// (already_exists without <see cref="Force"/>, quota_exceeded, path errors) before any data is sent.
/// The classic tutorial form — <c>filename</c> + <c>filesize</c> with the bytes as body — is also a put (§5.7).
/// </summary>
internal sealed record PutMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.Put;
    /// <summary>Client-chosen id that ties put_data and put_end to this upload; unique among the connection's open uploads.</summary>
    /// <summary>Required with <see cref="Path"/>; nullable so that a missing one is refused rather than read as 0.</summary>
    [JsonPropertyName("id")] public long? Id { get; init; }
    /// <summary>Remote path, relative to the user's root (§5.1).</summary>
    [JsonPropertyName("path")] public string? Path { get; init; }
    /// <summary>Final size of the file in bytes. Required with <see cref="Path"/>; nullable so that a missing one is refused rather than read as 0.</summary>
    [JsonPropertyName("size")] public long? Size { get; init; }
    /// <summary>Checksum algorithm for the whole file and the resume chunks: <c>xxh3-128</c> (default) or <c>sha256</c>.</summary>
    [JsonPropertyName("checksum")] public string? Checksum { get; init; }
    /// <summary>Replace an existing file.</summary>
    [JsonPropertyName("force")] public bool Force { get; init; }
    /// <summary>Continue a partial upload of the same path and size if the server kept one.</summary>
    [JsonPropertyName("resume")] public bool Resume { get; init; }
    /// <summary>Modification time to give the file, Unix seconds (optional).</summary>
    [JsonPropertyName("mtime")] public long? ModifiedUnixSeconds { get; init; }
    /// <summary>Let other connections of the same user write ranges of this upload (put_join with the returned token).</summary>
    [JsonPropertyName("shared")] public bool Shared { get; init; }
    /// <summary>Modification time to give the file in nanoseconds since the Unix epoch (instead of <see cref="ModifiedUnixSeconds"/>; §5.9.3).</summary>
    [JsonPropertyName("mtime_ns")] public long? ModifiedNs { get; init; }
    /// <summary>Permission bits to give the file (0 to 0o777; higher bits are masked off).</summary>
    [JsonPropertyName("mode")] public int? Mode { get; init; }
    /// <summary>Delta put: files under the root the new file may share content with; the body is the new file's chunk list (§5.9.3).</summary>
    [JsonPropertyName("basis")] public string[]? Basis { get; init; }
    /// <summary>Delta put: the average chunk size the body's chunk list was cut with.</summary>
    [JsonPropertyName("avg")] public int? AverageChunkSize { get; init; }
    /// <summary>Delta put in two levels (§5.9.6): the body is a group list of this many groups, not a chunk list.</summary>
    [JsonPropertyName("groups")] public int? Groups { get; init; }
    /// <summary>Delta put: the length of the chunk list in the body.</summary>
    [JsonPropertyName("bodysize")] public long? BodySize { get; init; }

    // Classic tutorial fields (§5.7).
    [JsonPropertyName("filename")] public string? FileName { get; init; }
    [JsonPropertyName("filesize")] public long? FileSize { get; init; }
}

/// <summary>
/// The server is ready for the upload's data. <see cref="Offset"/> is how much of the file it already holds from a
/// previous attempt (0 for a fresh upload); the body carries the hash of each complete chunk of that prefix, in order,
/// each <c>hash length</c> bytes (16 for xxh3-128, 32 for sha256), so the client can re-send only chunks that differ.
/// </summary>
internal sealed record PutReadyMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.PutReady;
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("offset")] public long Offset { get; init; }
    [JsonPropertyName("chunk_size")] public int ChunkSize { get; init; }
    [JsonPropertyName("bodysize")] public long BodySize { get; init; }
    /// <summary>For a shared put: what other connections present in put_join.</summary>
    [JsonPropertyName("token")] public string? Token { get; init; }
    /// <summary>Delta put: how many (offset, length) ranges of the new file the body lists as needed (§5.9.3).</summary>
    [JsonPropertyName("need")] public int? NeededRanges { get; init; }
}

/// <summary>Joins a shared upload opened on another connection, to send some of its ranges (parallel streams, §5.2.1).</summary>
internal sealed record PutJoinMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.PutJoin;
    /// <summary>This connection's id for the upload.</summary>
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("token")] public string? Token { get; init; }
}

/// <summary>Bytes of an open upload at <see cref="Offset"/>; the body is the data. Never answered (errors are reported at put_end).</summary>
internal sealed record PutDataMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.PutData;
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("offset")] public long Offset { get; init; }
    [JsonPropertyName("bodysize")] public long BodySize { get; init; }
    /// <summary><c>zstd</c> when the body is compressed (§5.9.4); then <see cref="RawSize"/> is its decompressed length.</summary>
    [JsonPropertyName("encoding")] public string? Encoding { get; init; }
    [JsonPropertyName("rawsize")] public long? RawSize { get; init; }
}

/// <summary>Ends an upload: <see cref="Hash"/> is the sender's checksum of the whole file. Answered by <see cref="TransferDoneMessage"/> or an error.</summary>
internal sealed record PutEndMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.PutEnd;
    [JsonPropertyName("id")] public long Id { get; init; }
    /// <summary>Lower-case hex of the whole-file checksum.</summary>
    [JsonPropertyName("hash")] public string? Hash { get; init; }
    /// <summary>On a joined connection: this connection's ranges are written; the opening connection commits.</summary>
    [JsonPropertyName("part")] public bool Part { get; init; }
}

/// <summary>A transfer was committed (put) or fully sent (get): the path, its size and checksum.</summary>
internal sealed record TransferDoneMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.Done;
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("path")] public string? Path { get; init; }
    [JsonPropertyName("size")] public long Size { get; init; }
    [JsonPropertyName("checksum")] public string? Checksum { get; init; }
    [JsonPropertyName("hash")] public string? Hash { get; init; }
}

/// <summary>Asks for a file from <see cref="Offset"/> to its end. Answered by <see cref="FileDataMessage"/> + body, then <see cref="TransferDoneMessage"/>.</summary>
internal sealed record GetMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.Get;
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("path")] public string? Path { get; init; }
    [JsonPropertyName("offset")] public long Offset { get; init; }
    [JsonPropertyName("checksum")] public string? Checksum { get; init; }
    /// <summary>Send at most this many bytes from <see cref="Offset"/> (a range, for parallel streams); default to the end.</summary>
    [JsonPropertyName("length")] public long? Length { get; init; }
    /// <summary>Skip the whole-file hash in done (the other ranges' connection asks for it once).</summary>
    [JsonPropertyName("nohash")] public bool NoHash { get; init; }
    /// <summary><c>zstd</c>: send the range as compressed blocks (§5.9.4).</summary>
    [JsonPropertyName("encoding")] public string? Encoding { get; init; }
}

/// <summary>The bytes of a file from <see cref="Offset"/> to <see cref="Size"/>, as the body.</summary>
internal sealed record FileDataMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.FileData;
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("path")] public string? Path { get; init; }
    [JsonPropertyName("size")] public long Size { get; init; }
    [JsonPropertyName("offset")] public long Offset { get; init; }
    [JsonPropertyName("mtime")] public long ModifiedUnixSeconds { get; init; }
    [JsonPropertyName("bodysize")] public long BodySize { get; init; }
    /// <summary><c>zstd</c> when the body is a compressed block (§5.9.4); then <see cref="RawSize"/> is its decompressed length.</summary>
    [JsonPropertyName("encoding")] public string? Encoding { get; init; }
    [JsonPropertyName("rawsize")] public long? RawSize { get; init; }
}

/// <summary>Asks for per-chunk checksums of a file (to verify a partial download before resuming it).</summary>
internal sealed record HashesMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.Hashes;
    [JsonPropertyName("path")] public string? Path { get; init; }
    [JsonPropertyName("checksum")] public string? Checksum { get; init; }
    [JsonPropertyName("chunk_size")] public int ChunkSize { get; init; }
    /// <summary>Hash only this many bytes from the start (the length of the client's partial file).</summary>
    [JsonPropertyName("length")] public long Length { get; init; }
}

/// <summary>Per-chunk hashes as the body, concatenated raw (16 or 32 bytes each).</summary>
internal sealed record HashListMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.HashList;
    [JsonPropertyName("size")] public long Size { get; init; }
    [JsonPropertyName("chunk_size")] public int ChunkSize { get; init; }
    [JsonPropertyName("bodysize")] public long BodySize { get; init; }
}

/// <summary>Lists a directory (or one file). <see cref="Recursive"/> lists the whole tree with relative paths.</summary>
internal sealed record ListMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.List;
    [JsonPropertyName("path")] public string? Path { get; init; }
    [JsonPropertyName("recursive")] public bool Recursive { get; init; }
}

/// <summary>A listing: the body is a UTF-8 JSON array of <see cref="FileEntry"/>.</summary>
internal sealed record ListingMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.Listing;
    [JsonPropertyName("path")] public string? Path { get; init; }
    [JsonPropertyName("count")] public int Count { get; init; }
    [JsonPropertyName("bodysize")] public long BodySize { get; init; }
}

/// <summary>One file or directory.</summary>
internal sealed record FileEntry
{
    /// <summary>Name (or, in a recursive listing, the path relative to the listed directory, '/'-separated).</summary>
    [JsonPropertyName("name")] public required string Name { get; init; }
    /// <summary><c>file</c>, <c>dir</c> or <c>link</c> (a symbolic link that stays inside the root).</summary>
    [JsonPropertyName("type")] public required string Type { get; init; }
    [JsonPropertyName("size")] public long Size { get; init; }
    [JsonPropertyName("mtime")] public long ModifiedUnixSeconds { get; init; }
}

/// <summary>Asks for one entry's details. Answered by <see cref="StatResultMessage"/>.</summary>
internal sealed record StatMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.Stat;
    [JsonPropertyName("path")] public string? Path { get; init; }
}

internal sealed record StatResultMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.StatResult;
    [JsonPropertyName("path")] public string? Path { get; init; }
    [JsonPropertyName("entry")] public FileEntry? Entry { get; init; }
}

/// <summary>Creates a directory; <see cref="Parents"/> creates missing parents and accepts an existing directory (mkdir -p).</summary>
internal sealed record MkdirMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.Mkdir;
    [JsonPropertyName("path")] public string? Path { get; init; }
    [JsonPropertyName("parents")] public bool Parents { get; init; }
}

/// <summary>Removes a file, an empty directory, or with <see cref="Recursive"/> a tree.</summary>
internal sealed record RemoveMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.Remove;
    [JsonPropertyName("path")] public string? Path { get; init; }
    [JsonPropertyName("recursive")] public bool Recursive { get; init; }
}

/// <summary>Renames or moves; an existing target is replaced only with <see cref="Force"/> (and never a directory).</summary>
internal sealed record MoveMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.Move;
    [JsonPropertyName("from")] public string? From { get; init; }
    [JsonPropertyName("to")] public string? To { get; init; }
    [JsonPropertyName("force")] public bool Force { get; init; }
}
