using Ferry.Fuzz;
using SharpFuzz;

// Usage:
//   Ferry.Fuzz TARGET                 run under afl-fuzz (SharpFuzz out-of-process mode; input on stdin)
//   Ferry.Fuzz TARGET --libfuzzer     run under libfuzzer-dotnet
//   Ferry.Fuzz TARGET --replay FILE…  run the target once per file, outside any fuzzer (crash triage, corpus checks)
// TARGET is one of: frame, path, handshake, datagram.

if (args.Length == 0 || !FuzzTargets.TryGet(args[0], out var target))
{
    Console.Error.WriteLine($"usage: Ferry.Fuzz {{{string.Join('|', FuzzTargets.Names)}}} [--libfuzzer | --replay FILE...]");
    return 2;
}

var mode = args.Length > 1 ? args[1] : "--afl";
switch (mode)
{
    case "--afl":
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            target(buffer.ToArray());
        });
        return 0;
    case "--libfuzzer":
        Fuzzer.LibFuzzer.Run(span => target(span.ToArray()));
        return 0;
    case "--replay":
        var failures = 0;
        foreach (var file in args.Skip(2).SelectMany(ExpandDirectory))
        {
            try
            {
                target(File.ReadAllBytes(file));
                Console.WriteLine($"ok      {file}");
            }
            catch (Exception ex)
            {
                failures++;
                Console.WriteLine($"FAILED  {file}");
                Console.WriteLine(ex);
            }
        }
        return failures == 0 ? 0 : 1;
    default:
        Console.Error.WriteLine($"Unknown mode '{mode}'.");
        return 2;
}

static IEnumerable<string> ExpandDirectory(string path) =>
    Directory.Exists(path) ? Directory.EnumerateFiles(path).Order(StringComparer.Ordinal) : [path];
