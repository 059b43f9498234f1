namespace Ferry.Sync.Filtering;

/// <summary>
/// A compiled glob, matched by simulating its automaton over all states at once (Thompson's method): time
/// O(path × pattern) whatever the pattern, with no backtracking, and compiling costs next to nothing, so a .ferryignore of
/// thousands of patterns loads at once and no pattern can stall a match.
/// </summary>
internal sealed class GlobProgram
{
    private readonly List<GlobStep> _steps = [];

    /// <summary>One state of the automaton.</summary>
    private readonly record struct GlobStep(GlobStepKind Kind, char Literal = '\0', GlobCharSet? Set = null);

    /// <summary>Appends: match exactly <paramref name="c"/>.</summary>
    public void Literal(char c) => _steps.Add(new GlobStep(GlobStepKind.Literal, c));

    /// <summary>Appends <c>?</c>: any one character but '/'.</summary>
    public void AnyOne() => _steps.Add(new GlobStep(GlobStepKind.AnyOne));

    /// <summary>Appends a bracket expression: one character of <paramref name="set"/>, never '/'.</summary>
    public void OneOf(GlobCharSet set) => _steps.Add(new GlobStep(GlobStepKind.Set, Set: set));

    /// <summary>Appends <c>*</c>: any run of characters without '/'.</summary>
    public void Star() => _steps.Add(new GlobStep(GlobStepKind.Star));

    /// <summary>Appends a trailing <c>/**</c>'s <c>**</c>: any run of characters, '/' included.</summary>
    public void AnyRun() => _steps.Add(new GlobStep(GlobStepKind.AnyRun));

    /// <summary>Appends <c>**/</c>: nothing, or any run of characters that ends with '/' (zero or more folders).</summary>
    public void AnyFolders()
    {
        _steps.Add(new GlobStep(GlobStepKind.FoldersEntry));
        _steps.Add(new GlobStep(GlobStepKind.FoldersLoop));
    }

    /// <summary>Whether the whole of <paramref name="text"/> matches.</summary>
    public bool IsMatch(ReadOnlySpan<char> text)
    {
        var count = _steps.Count;
        var current = new bool[count + 1];
        var next = new bool[count + 1];
        Enter(current, 0);
        foreach (var c in text)
        {
            Array.Clear(next);
            var alive = false;
            for (var i = 0; i < count; i++)
            {
                if (!current[i])
                    continue;
                var step = _steps[i];
                switch (step.Kind)
                {
                    case GlobStepKind.Literal when c == step.Literal:
                    case GlobStepKind.AnyOne when c != '/':
                    case GlobStepKind.Set when c != '/' && step.Set!.Contains(c):
                        alive |= Enter(next, i + 1);
                        break;
                    case GlobStepKind.Star when c != '/':
                    case GlobStepKind.AnyRun:
                        alive |= Enter(next, i);
                        break;
                    case GlobStepKind.FoldersLoop:
                        alive |= Enter(next, i);
                        if (c == '/')
                            Enter(next, i + 1);
                        break;
                }
            }
            if (!alive)
                return false;
            (current, next) = (next, current);
        }
        return current[count];
    }

    /// <summary>Marks state <paramref name="index"/> and every state reachable from it without reading a character.</summary>
    /// <returns>True (so callers can note that a state is alive).</returns>
    private bool Enter(bool[] states, int index)
    {
        // Iterative: a pattern such as "**/**/**/..." chains thousands of empty moves.
        var pending = new Stack<int>();
        pending.Push(index);
        while (pending.TryPop(out var state))
        {
            if (states[state])
                continue;
            states[state] = true;
            if (state == _steps.Count)
                continue;
            switch (_steps[state].Kind)
            {
                case GlobStepKind.Star:
                case GlobStepKind.AnyRun:
                    pending.Push(state + 1); // may match nothing
                    break;
                case GlobStepKind.FoldersEntry:
                    pending.Push(state + 2); // no folders
                    pending.Push(state + 1); // some folders: read up to a '/'
                    break;
            }
        }
        return true;
    }
}
