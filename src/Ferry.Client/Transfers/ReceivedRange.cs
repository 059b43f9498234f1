using Ferry.Protocol.Messages;

namespace Ferry.Client.Transfers;

/// <summary>What <c>ReceiveRangeAsync</c> read: the first <c>file</c> frame, the closing <c>done</c>, the body bytes that crossed
/// the connection (compressed), the file bytes they carried, and a local failure that kept the data from being stored.</summary>
internal sealed record ReceivedRange(FileDataMessage File, TransferDoneMessage Done, long WireBytes, long RawBytes, Exception? LocalError);
