namespace Ferry.Sync.Caching;

/// <summary>The answer of <see cref="FileDigester.DigestAsync"/>.</summary>
/// <param name="Digest">The hash (and chunk list, when asked for) of the file.</param>
/// <param name="FromCache">True when the file was not read at all.</param>
/// <param name="ChangedWhileReading">
/// True when the file's identity differed before and after reading (someone wrote, replaced or renamed it meanwhile): the
/// digest may then describe no version the file ever had, and it was not cached. A sender should retry or skip the file.
/// </param>
public readonly record struct FileDigestResult(FileDigest Digest, bool FromCache, bool ChangedWhileReading);
