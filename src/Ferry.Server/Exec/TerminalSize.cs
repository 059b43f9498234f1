using Ferry.Protocol.Errors;

namespace Ferry.Server.Exec;

/// <summary>A terminal window in character cells and pixels (0: unknown), as the kernel keeps it (struct winsize: 16 bits each).</summary>
internal readonly record struct TerminalSize(ushort Columns, ushort Rows, ushort XPixels, ushort YPixels)
{
    /// <summary>Checks sizes from the wire: each a whole number from 0 to 65535, else field_invalid.</summary>
    /// <exception cref="FerryException">field_invalid.</exception>
    public static TerminalSize Of(long columns, long rows, long xPixels, long yPixels, bool isFatal = false) => new(
        Field("cols", columns, isFatal), Field("rows", rows, isFatal), Field("xpixel", xPixels, isFatal), Field("ypixel", yPixels, isFatal));

    private static ushort Field(string name, long value, bool isFatal)
    {
        if (value is < 0 or > ushort.MaxValue)
        {
            var message = $"'{name}' must be a whole number from 0 to {ushort.MaxValue}, not {value}.";
            throw isFatal ? new FerryProtocolException(FerryErrorCode.FieldInvalid, message, isFatal: true) : new FerryException(FerryErrorCode.FieldInvalid, message);
        }
        return (ushort)value;
    }
}
