namespace Ferry.Client.Exec;

/// <summary>A terminal window in character cells, and in pixels when known (0 otherwise); each at most 65535.</summary>
public readonly record struct TerminalWindow(int Columns, int Rows, int XPixels = 0, int YPixels = 0);
