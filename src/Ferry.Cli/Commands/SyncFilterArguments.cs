using System.CommandLine.Parsing;
using Ferry.Sync.Filtering;

namespace Ferry.Cli.Commands;

/// <summary>
/// The filter rules of 'ferry sync' in command-line order: --include, --exclude and the lines of --exclude-from,
/// interleaved as typed. The first rule that matches wins, so the order across the three options matters, and the
/// parser's per-option value lists would lose it: the rules are read from the token stream instead.
/// </summary>
public static class SyncFilterArguments
{
    private static readonly string[] s_options = ["--exclude", "--include", "--exclude-from"];

    /// <summary>The rules named by <paramref name="tokens"/>, in order.</summary>
    /// <exception cref="IOException">An --exclude-from file cannot be read.</exception>
    /// <exception cref="InvalidDataException">An --exclude-from file is too large.</exception>
    public static async Task<List<FilterRule>> ReadAsync(IReadOnlyList<Token> tokens, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var rules = new List<FilterRule>();
        for (var i = 0; i < tokens.Count - 1; i++)
        {
            if (tokens[i].Type != TokenType.Option)
                continue;
            var which = Array.IndexOf(s_options, tokens[i].Value);
            if (which < 0)
                continue;
            var value = tokens[++i].Value;
            switch (which)
            {
                case 0:
                    rules.Add(FilterRule.Exclude(value));
                    break;
                case 1:
                    rules.Add(FilterRule.Include(value));
                    break;
                default:
                    rules.AddRange(await FilterRule.ReadExcludeFromAsync(value, cancellationToken).ConfigureAwait(false));
                    break;
            }
        }
        return rules;
    }
}
