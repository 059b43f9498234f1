using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Ferry.Testing;

/// <summary>Collects log lines (with their scopes) so tests can assert what the server logged.</summary>
public sealed class InMemoryLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public ConcurrentQueue<LogLine> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose() { }

    public sealed record LogLine(string Category, LogLevel Level, EventId EventId, string Message, IReadOnlyList<string> Scopes, Exception? Exception = null);

    private sealed class Logger(InMemoryLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => owner._scopes.Push(state);
        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var scopes = new List<string>();
            owner._scopes.ForEachScope((scope, list) => list.Add(scope?.ToString() ?? ""), scopes);
            owner.Lines.Enqueue(new LogLine(category, logLevel, eventId, formatter(state, exception), scopes, exception));
        }
    }
}
