using Ferry.Protocol.Errors;

namespace Ferry.Server.Storage;

/// <summary>OS errors of a store's file system as Ferry codes (disk_full, not_found, permission_denied, ...).</summary>
internal static class StorageErrors
{
    private const int Enospc = 28;
    private const int Edquot = 122;
    private const int WindowsDiskFull = unchecked((int)0x80070070);

    public static bool IsDiskFull(Exception ex) =>
        ex is IOException io && (io.HResult is Enospc or Edquot or WindowsDiskFull || io.HResult == (Enospc | unchecked((int)0x80070000)));

    public static bool TryMap(Exception ex, out FerryException mapped)
    {
        mapped = ex switch
        {
            FerryException => null!,
            _ when IsDiskFull(ex) => new FerryException(FerryErrorCode.DiskFull, "The server's disk is full; nothing was stored.", ex),
            FileNotFoundException or DirectoryNotFoundException => new FerryException(FerryErrorCode.NotFound, "No such file or directory.", ex),
            UnauthorizedAccessException => new FerryException(FerryErrorCode.PermissionDenied, "The server's file system refused access.", ex),
            PathTooLongException => new FerryException(FerryErrorCode.PathTooLong, "The path is too long for the server's file system.", ex),
            IOException io => new FerryException(FerryErrorCode.IoError, $"The server's file system failed: {io.Message}", ex),
            _ => null!,
        };
        return mapped is not null;
    }
}
