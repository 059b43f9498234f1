using System.Text;

namespace Ferry.Protocol.Framing;

/// <summary>The command names of docs/protocol.md. The header parser interns these so a known command costs no allocation.</summary>
internal static class CommandNames
{
    public const string Hello = "hello";
    public const string Auth = "auth";
    public const string AuthOk = "auth_ok";
    public const string Error = "error";
    public const string Ok = "ok";
    public const string Echo = "echo";
    public const string Put = "put";
    public const string PutReady = "put_ready";
    public const string PutData = "put_data";
    public const string PutJoin = "put_join";
    public const string PutEnd = "put_end";
    public const string PutFile = "put_file";
    public const string PutFiles = "put_files";
    public const string PutFilesDone = "put_files_done";
    public const string GetFiles = "get_files";
    public const string FileRecords = "file_records";
    public const string GetFilesDone = "get_files_done";
    public const string Done = "done";
    public const string Get = "get";
    public const string FileData = "file";
    public const string List = "ls";
    public const string Listing = "listing";
    public const string Stat = "stat";
    public const string StatResult = "stat_result";
    public const string Mkdir = "mkdir";
    public const string Remove = "rm";
    public const string Move = "mv";
    public const string Hashes = "hashes";
    public const string HashList = "hash_list";
    public const string Bye = "bye";
    public const string Exec = "exec";
    public const string ExecStarted = "exec_started";
    public const string Stdout = "stdout";
    public const string Stderr = "stderr";
    public const string Stdin = "stdin";
    public const string StdinEnd = "stdin_end";
    public const string Signal = "signal";
    public const string WindowChange = "window_change";
    public const string Exit = "exit";
    public const string ExecDone = "exec_done";
    public const string Scan = "scan";
    public const string ScanList = "scan_list";
    public const string Chunks = "chunks";
    public const string ChunkList = "chunk_list";
    public const string PutGroups = "put_groups";
    public const string PutChunks = "put_chunks";
    public const string SetAttributes = "setattr";
    public const string Symlink = "symlink";

    internal static readonly (byte[] Utf8, string Name)[] Known =
        new[] { PutData, FileData, Put, PutFile, PutFiles, PutFilesDone, GetFiles, FileRecords, GetFilesDone, PutEnd, Done, PutReady, Get, Hello, Auth, AuthOk, Error, Ok, Echo, List, Listing, Stat, StatResult, Mkdir, Remove, Move, Hashes, HashList, Bye, PutJoin, Stdout, Stderr, Stdin, StdinEnd, Exec, ExecStarted, Signal, WindowChange, Exit, ExecDone, Scan, ScanList, Chunks, ChunkList, PutGroups, PutChunks, SetAttributes, Symlink }
            .Select(n => (Encoding.UTF8.GetBytes(n), n)).ToArray();
}
