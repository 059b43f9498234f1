using System.Text.Json.Serialization;

namespace Ferry.Protocol.Messages;

/// <summary>Source-generated serializers for every message; wire names are set per property, never by policy.</summary>
/// <remarks>
/// Generated deserializers assign every init-only property, present or not, so an optional field must be nullable or
/// have default(T) as its default: an initializer such as <c>= []</c> would be overwritten with null.
/// </remarks>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    GenerationMode = JsonSourceGenerationMode.Default)]
[JsonSerializable(typeof(HelloMessage))]
[JsonSerializable(typeof(AuthMessage))]
[JsonSerializable(typeof(AuthOkMessage))]
[JsonSerializable(typeof(ErrorMessage))]
[JsonSerializable(typeof(OkMessage))]
[JsonSerializable(typeof(EchoMessage))]
[JsonSerializable(typeof(ByeMessage))]
[JsonSerializable(typeof(PutMessage))]
[JsonSerializable(typeof(PutFileMessage))]
[JsonSerializable(typeof(PutFilesMessage))]
[JsonSerializable(typeof(PutFilesDoneMessage))]
[JsonSerializable(typeof(PutFilesFailure))]
[JsonSerializable(typeof(List<PutFilesFailure>))]
[JsonSerializable(typeof(PutReadyMessage))]
[JsonSerializable(typeof(PutDataMessage))]
[JsonSerializable(typeof(PutJoinMessage))]
[JsonSerializable(typeof(PutEndMessage))]
[JsonSerializable(typeof(TransferDoneMessage))]
[JsonSerializable(typeof(GetMessage))]
[JsonSerializable(typeof(FileDataMessage))]
[JsonSerializable(typeof(HashesMessage))]
[JsonSerializable(typeof(HashListMessage))]
[JsonSerializable(typeof(ListMessage))]
[JsonSerializable(typeof(ListingMessage))]
[JsonSerializable(typeof(FileEntry))]
[JsonSerializable(typeof(List<FileEntry>))]
[JsonSerializable(typeof(StatMessage))]
[JsonSerializable(typeof(StatResultMessage))]
[JsonSerializable(typeof(MkdirMessage))]
[JsonSerializable(typeof(RemoveMessage))]
[JsonSerializable(typeof(MoveMessage))]
[JsonSerializable(typeof(ExecMessage))]
[JsonSerializable(typeof(ExecStartedMessage))]
[JsonSerializable(typeof(ExecOutputMessage))]
[JsonSerializable(typeof(ExecInputMessage))]
[JsonSerializable(typeof(ExecSignalMessage))]
[JsonSerializable(typeof(ExecExitMessage))]
[JsonSerializable(typeof(ExecDoneMessage))]
[JsonSerializable(typeof(ExecTerminal))]
[JsonSerializable(typeof(WindowChangeMessage))]
[JsonSerializable(typeof(ScanMessage))]
[JsonSerializable(typeof(ScanListMessage))]
[JsonSerializable(typeof(ScanEntry))]
[JsonSerializable(typeof(List<ScanEntry>))]
[JsonSerializable(typeof(ChunksMessage))]
[JsonSerializable(typeof(ChunkListMessage))]
[JsonSerializable(typeof(PutGroupsMessage))]
[JsonSerializable(typeof(PutChunksMessage))]
[JsonSerializable(typeof(SetAttributesMessage))]
[JsonSerializable(typeof(SymlinkMessage))]
internal sealed partial class FerryJsonContext : JsonSerializerContext;
