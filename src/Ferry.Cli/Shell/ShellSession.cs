using System.CommandLine;
using System.Globalization;
using System.Text;
using Ferry.Cli.Commands;
using Ferry.Cli.Terminal;
using Ferry.Client;
using Ferry.Client.Exec;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;

namespace Ferry.Cli.Shell;

/// <summary>
/// <c>ferry shell</c>: a prompt, a remote working directory, and one connection for everything typed. Each line runs through
/// the remote /bin/sh -c in that directory, except the built-ins (cd, pwd, ls, put, get, lcd, lpwd, help, quit).
/// </summary>
internal sealed class ShellSession(ParseResult parse, ServerAddress address, CliEnvironment environment, bool useTerminal = false)
{
    private readonly ShellHistory _history = ShellHistory.For(address.ToString(), environment.StateDirectory);
    /// <summary>While waiting at the prompt, the connection is kept alive with an echo this often (servers drop silent ones).</summary>
    internal static TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(60);

    private readonly TextWriter _output = parse.InvocationConfiguration.Output;
    private readonly TextWriter _error = parse.InvocationConfiguration.Error;
    private FerryClient? _client;
    private string _cwd = "";
    private string _previous = "";
    private CancellationTokenSource? _command;
    private LastByteStream? _stdout;
    private Stream? _stderr;

    private const string Help = """
        Each line runs on the server through /bin/sh -c, in the current remote directory, with no input (commands that
        read stdin see its end); Ctrl-C interrupts it. A failing exit status is shown as [exit N]. Built in:
          cd [DIR]            change the remote directory (no DIR: your home; '-': the previous one)
          pwd                 show the remote directory
          ls [PATH]           list a remote directory (with options, e.g. 'ls -l', the remote ls runs instead)
          put [-f] LOCAL [REMOTE]   upload a file or directory (-f replaces an existing file)
          get [-f] REMOTE [LOCAL]   download a file or directory
          lcd DIR, lpwd       change or show the local directory
          help                this text
          quit, exit, Ctrl-D  leave ('exit N' runs remotely like any other line)
        """;

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        using var quit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ConsoleCancelEventHandler onCtrlC = (_, e) =>
        {
            // Ctrl-C interrupts the running command, never the shell; at a plain (non-terminal) prompt it leaves.
            e.Cancel = true;
            var running = Volatile.Read(ref _command);
            try
            {
                if (running is not null)
                    running.Cancel();
                else
                    quit.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        };
        Console.CancelKeyPress += onCtrlC;
        try
        {
            _client = await ClientConnector.ConnectAsync(parse, address, quit.Token).ConfigureAwait(false);
            await using var stdout = new LastByteStream(CliStreams.Open(_output, isError: false));
            await using var stderr = CliStreams.Open(_error, isError: true);
            _stdout = stdout;
            _stderr = stderr;
            if (useTerminal && environment.InputIsTerminal && LocalTerminal.IsInteractive && _client.ServerSupports(FeatureNames.ExecTerminal))
                return await RunOnTerminalAsync(quit.Token).ConfigureAwait(false);
            using var input = OpenInput();
            input.Editor?.Remember(_history.Load());
            if (input.Interactive)
                await _output.WriteLineAsync($"Connected to {address}{(_client.User is { } u ? $" as {u}" : "")}. Type 'help' for the built-in commands, 'quit' or Ctrl-D to leave.").ConfigureAwait(false);

            while (true)
            {
                var line = await ReadLineAsync(input, quit.Token).ConfigureAwait(false);
                if (line is null)
                    return ExitCodes.Success;
                line = line.Trim();
                if (line.Length == 0 || line.StartsWith('#'))
                    continue;
                if (input.Interactive)
                    _history.Add(line);
                if (line is "quit" or "exit" or "logout")
                    return ExitCodes.Success;
                await RunLineAsync(line, quit.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (quit.IsCancellationRequested)
        {
            return ExitCodes.Interrupted;
        }
        finally
        {
            Console.CancelKeyPress -= onCtrlC;
            if (_client is not null)
                await _client.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A login shell on a remote terminal, on a connection of its own; the built-ins run through '~:' on this session's
    /// other connection, with their lines kept in the history.
    /// </summary>
    private async Task<int> RunOnTerminalAsync(CancellationToken cancellationToken)
    {
        await using var terminalClient = await ClientConnector.ConnectAsync(parse, address, cancellationToken).ConfigureAwait(false);
        var session = new TerminalSession(parse, address.ToString(), async (line, ct) =>
        {
            _history.Add(line);
            await RunLineAsync(line, ct).ConfigureAwait(false);
            await _output.FlushAsync(ct).ConfigureAwait(false);
        });
        return await session.RunAsync(terminalClient, new ExecRequest(), redirectedInput: null, cancellationToken).ConfigureAwait(false);
    }

    private string Prompt => $"ferry {(_client?.User is { } user ? user + "@" : "")}{address}:/{_cwd}$ ";

    /// <summary>Reads the next line while keeping the idle connection alive.</summary>
    private async Task<string?> ReadLineAsync(LineSource input, CancellationToken cancellationToken)
    {
        using var stopKeepAlive = new CancellationTokenSource();
        var keepAlive = KeepAliveAsync(stopKeepAlive.Token);
        try
        {
            if (input.Editor is { } editor)
            {
                var prompt = Prompt;
                return await Task.Run(() => editor.ReadLine(prompt), CancellationToken.None).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            await _output.WriteAsync(Prompt).ConfigureAwait(false);
            await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (input.Reader is not { } reader)
                return null;
            var line = await reader.ReadLineAsync(cancellationToken).AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
            if (line is null)
                await _output.WriteLineAsync().ConfigureAwait(false);
            return line;
        }
        finally
        {
            await stopKeepAlive.CancelAsync().ConfigureAwait(false);
            await keepAlive.ConfigureAwait(false);
        }
    }

    private async Task KeepAliveAsync(CancellationToken stop)
    {
        try
        {
            while (true)
            {
                await Task.Delay(KeepAliveInterval, stop).ConfigureAwait(false);
                if (_client is not { } client || client.HasServerHungUp())
                    return;
                // Not cancelled by the next line: an echo cut in half would leave the connection out of step.
                using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                await client.EchoAsync(ReadOnlyMemory<byte>.Empty, limit.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception)
        {
            // The connection is gone; the next command reconnects.
            if (_client is { } client)
            {
                await client.DisposeAsync().ConfigureAwait(false);
                _client = null;
            }
        }
    }

    private async Task RunLineAsync(string line, CancellationToken cancellationToken)
    {
        using var command = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Volatile.Write(ref _command, command);
        try
        {
            var client = await ConnectedAsync(command.Token).ConfigureAwait(false);
            List<string> words;
            try
            {
                words = ShellWords.Split(line);
            }
            catch (FormatException)
            {
                words = []; // not a built-in's syntax: let the remote shell judge it
            }
            switch (words.FirstOrDefault())
            {
                case "help" or "?":
                    await _output.WriteLineAsync(Help).ConfigureAwait(false);
                    break;
                case "pwd" when words.Count == 1:
                    await _output.WriteLineAsync("/" + _cwd).ConfigureAwait(false);
                    break;
                case "cd":
                    await ChangeDirectoryAsync(client, words, command.Token).ConfigureAwait(false);
                    break;
                case "ls" when !words.Skip(1).Any(w => w.StartsWith('-')) && words.Count <= 2:
                    var entries = await client.ListEntriesAsync(words.Count > 1 ? Resolve(words[1]) : _cwd, cancellationToken: command.Token).ConfigureAwait(false);
                    await ListCommand.WritePlainAsync(_output, entries).ConfigureAwait(false);
                    break;
                case "put":
                    await PutAsync(client, words, command.Token).ConfigureAwait(false);
                    break;
                case "get":
                    await GetAsync(client, words, command.Token).ConfigureAwait(false);
                    break;
                case "lcd" when words.Count == 2:
                    Environment.CurrentDirectory = Path.GetFullPath(LocalPath(words[1]));
                    break;
                case "lpwd" when words.Count == 1:
                    await _output.WriteLineAsync(Environment.CurrentDirectory).ConfigureAwait(false);
                    break;
                default:
                    await RunRemoteAsync(client, line, command.Token).ConfigureAwait(false);
                    break;
            }
        }
        catch (OperationCanceledException) when (command.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            await _error.WriteLineAsync("ferry: interrupted.").ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var (_, message) = ExitCodes.Describe(ex, address.ToString());
            await _error.WriteLineAsync($"ferry: {message}").ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _command, null);
        }
    }

    /// <summary>The connection, opened again if the last one broke (the working directory is kept).</summary>
    private async Task<FerryClient> ConnectedAsync(CancellationToken cancellationToken)
    {
        if (_client is { } client && !client.HasServerHungUp())
            return client;
        if (_client is not null)
            await _client.DisposeAsync().ConfigureAwait(false);
        _client = null;
        _client = await ClientConnector.ConnectAsync(parse, address, cancellationToken).ConfigureAwait(false);
        await _error.WriteLineAsync($"ferry: reconnected to {address}.").ConfigureAwait(false);
        return _client;
    }

    private async Task RunRemoteAsync(FerryClient client, string line, CancellationToken cancellationToken)
    {
        var request = ExecRequest.ShellLine(line) with { WorkingDirectory = _cwd };
        _stdout!.Reset();
        var result = await client.ExecAsync(request, null, _stdout, _stderr!, new ExecOptions(), cancellationToken).ConfigureAwait(false);
        if (_stdout.EndsWithoutNewline)
            await _output.WriteLineAsync().ConfigureAwait(false); // keep the prompt on its own line
        if (result.TimedOut)
            await _error.WriteLineAsync("[timed out]").ConfigureAwait(false);
        else if (result.Interrupted)
            await _error.WriteLineAsync($"[interrupted, exit {result.ExitCode}]").ConfigureAwait(false);
        else if (result.ExitCode != 0)
            await _error.WriteLineAsync($"[exit {result.ExitCode}]").ConfigureAwait(false);
    }

    private async Task ChangeDirectoryAsync(FerryClient client, List<string> words, CancellationToken cancellationToken)
    {
        if (words.Count > 2)
            throw new FerryException(FerryErrorCode.FieldInvalid, "cd takes one directory.");
        var target = words.Count == 1 ? "" : words[1] == "-" ? _previous : Resolve(words[1]);
        if (target.Length > 0)
        {
            var entry = await client.StatEntryAsync(target, cancellationToken).ConfigureAwait(false);
            if (entry.Type != "dir")
                throw new FerryException(FerryErrorCode.NotADirectory, $"'/{target}' is not a directory.");
        }
        _previous = _cwd;
        _cwd = target;
    }

    private async Task PutAsync(FerryClient client, List<string> words, CancellationToken cancellationToken)
    {
        var force = words.Remove("-f");
        if (words.Count is < 2 or > 3)
            throw new FerryException(FerryErrorCode.FieldInvalid, "Usage: put [-f] LOCAL [REMOTE]");
        var local = LocalPath(words[1]);
        var isDirectory = Directory.Exists(local);
        if (!isDirectory && !File.Exists(local))
            throw new FerryException(FerryErrorCode.NotFound, $"There is no local file '{words[1]}'.");
        var name = Path.GetFileName(Path.GetFullPath(local).TrimEnd(Path.DirectorySeparatorChar, '/'));
        var remote = RemotePath.Combine(_cwd, name);
        if (words.Count == 3)
        {
            remote = Resolve(words[2]);
            if (words[2].EndsWith('/') || remote.Length == 0 || (await PutCommand.TryStatAsync(client, remote, cancellationToken).ConfigureAwait(false))?.Type == "dir")
                remote = RemotePath.Combine(remote, name);
        }
        var options = new PutOptions { Force = force };
        if (isDirectory)
        {
            var batch = await client.PutTreeAsync(local, remote, options, cancellationToken: cancellationToken).ConfigureAwait(false);
            await ReportAsync(batch, $"{words[1]} -> /{remote}").ConfigureAwait(false);
        }
        else
        {
            var result = await client.PutFileAsync(local, remote, options, cancellationToken: cancellationToken).ConfigureAwait(false);
            await _output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{words[1]} -> /{remote} ({result.Bytes} bytes)")).ConfigureAwait(false);
        }
    }

    private async Task GetAsync(FerryClient client, List<string> words, CancellationToken cancellationToken)
    {
        var force = words.Remove("-f");
        if (words.Count is < 2 or > 3)
            throw new FerryException(FerryErrorCode.FieldInvalid, "Usage: get [-f] REMOTE [LOCAL]");
        var remote = Resolve(words[1]);
        var entry = await client.StatEntryAsync(remote, cancellationToken).ConfigureAwait(false);
        var name = remote.Length == 0 ? "home" : RemotePath.FileName(remote);
        var local = words.Count == 3 ? LocalPath(words[2]) : name;
        if (Directory.Exists(local) && (entry.Type != "dir" || words.Count == 3))
            local = Path.Combine(local, name);
        var options = new GetOptions { Force = force };
        if (entry.Type == "dir")
        {
            var batch = await client.GetTreeAsync(remote, local, options, cancellationToken: cancellationToken).ConfigureAwait(false);
            await ReportAsync(batch, $"/{remote} -> {local}").ConfigureAwait(false);
        }
        else
        {
            var result = await client.GetFileAsync(remote, local, options, cancellationToken: cancellationToken).ConfigureAwait(false);
            await _output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"/{remote} -> {local} ({result.Bytes} bytes)")).ConfigureAwait(false);
        }
    }

    private async Task ReportAsync(BatchTransferResult batch, string what)
    {
        await _output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"{what} ({batch.Completed.Count} files, {batch.Completed.Sum(c => c.Bytes)} bytes)")).ConfigureAwait(false);
        foreach (var failure in batch.Failed)
        {
            var (_, message) = ExitCodes.Describe(failure.Error, address.ToString());
            var shown = Ferry.Protocol.Text.ControlCharacters.Escape(failure.RemotePath.Length > 0 ? failure.RemotePath : failure.LocalPath);
            await _error.WriteLineAsync($"ferry: {shown}: {message}").ConfigureAwait(false);
        }
    }

    /// <summary>A remote path as typed: absolute from the home with '/', '~' for the home, else relative to the current directory.</summary>
    private string Resolve(string typed)
    {
        if (typed == "~" || typed.StartsWith("~/", StringComparison.Ordinal))
            return RemotePath.Normalize(typed[1..].TrimStart('/'));
        if (typed.StartsWith('/'))
            return RemotePath.Normalize(typed.TrimStart('/'));
        return RemotePath.Normalize(RemotePath.Combine(_cwd, typed));
    }

    private static string LocalPath(string typed) =>
        typed == "~" || typed.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), typed.Length > 2 ? typed[2..] : "")
            : typed;

    private LineSource OpenInput()
    {
        if (environment.InputIsTerminal && environment.Terminal is not null)
            return new LineSource(new LineEditor(Console.Out), null, true);
        if (environment.InputIsTerminal)
            return new LineSource(null, Console.In, true);
        if (environment.RedirectedInput is { } open)
            return new LineSource(null, new StreamReader(open(), new UTF8Encoding(false)), false);
        return new LineSource(null, null, false);
    }

    private sealed record LineSource(LineEditor? Editor, TextReader? Reader, bool Interactive) : IDisposable
    {
        public void Dispose()
        {
            if (Reader is not null && !ReferenceEquals(Reader, Console.In))
                Reader.Dispose();
        }
    }

    /// <summary>Remembers whether the last byte written was a newline, so the prompt never lands after a half line.</summary>
    private sealed class LastByteStream(Stream inner) : Stream
    {
        private int _last = '\n';

        public bool EndsWithoutNewline => _last != '\n';

        public void Reset() => _last = '\n';

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (count > 0)
                _last = buffer[offset + count - 1];
            inner.Write(buffer, offset, count);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!buffer.IsEmpty)
                _last = buffer.Span[^1];
            return inner.WriteAsync(buffer, cancellationToken);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                inner.Dispose();
            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }
    }
}
