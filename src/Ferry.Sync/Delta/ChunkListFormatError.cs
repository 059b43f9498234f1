namespace Ferry.Sync.Delta;

/// <summary>Why an encoded chunk list was refused; stable, so that logs and tests can tell the cases apart.</summary>
public enum ChunkListFormatError
{
    /// <summary>The input ended before the list did.</summary>
    Truncated = 1,
    /// <summary>The format version byte is not one this code reads.</summary>
    UnsupportedVersion = 2,
    /// <summary>The id width byte is neither 8 nor 16.</summary>
    UnsupportedIdWidth = 3,
    /// <summary>A number was longer than 10 bytes, encoded with needless bytes, or overflowed 64 bits.</summary>
    MalformedNumber = 4,
    /// <summary>The declared chunk count exceeds the limit, or more than the remaining input could hold.</summary>
    TooManyChunks = 5,
    /// <summary>A chunk length was 0 or above the maximum chunk size.</summary>
    ChunkLengthInvalid = 6,
    /// <summary>The chunk lengths add up to more than the limit on the file length.</summary>
    TotalLengthTooLarge = 7,
    /// <summary>Bytes follow the last chunk.</summary>
    TrailingBytes = 8,
    /// <summary>The chunks sent for a group do not give its hash (§5.9.6).</summary>
    GroupHashMismatch = 9,
    /// <summary>A group was neither sent nor held by the receiver (its copy changed since it answered which groups it lacks).</summary>
    NotHeld = 10,
}
