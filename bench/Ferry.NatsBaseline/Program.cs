using System.Diagnostics;
using System.Globalization;
using Ferry.NatsBaseline;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.ObjectStore;

// ferry-nats-baseline put|get|delete|purge --url nats://127.0.0.1:P[,...] --bucket NAME [--replicas N] [--file PATH] [--name OBJECT]
//
// put: creates the object store (file storage, N replicas) if missing and streams PATH into the object NAME (replacing it);
// get: streams the object NAME into PATH; delete: deletes the object NAME (its chunks are purged at once);
// purge: empties the whole object store (bench/scale-out.sh frees ferry serve's data bucket between runs with it, after
// the file was removed through Ferry: the parts of removed files otherwise wait for the partial_ttl sweep).
// The clock covers the transfer only (connect and bucket open are reported apart), so the script's wall-clock time of
// the whole process and this figure can be told apart. Loopback only. Exit status: 0 done, 1 failed, 2 usage.
try
{
    var options = BaselineOptions.Parse(args);
    using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(options.TimeoutSeconds));
    var opened = Stopwatch.StartNew();
    await using var connection = new NatsConnection(new NatsOpts { Url = options.Url, Name = "ferry-nats-baseline" });
    await connection.ConnectAsync();
    var objects = new NatsObjContext(new NatsJSContext(connection));
    // Only a put makes the bucket (as ferry serve does, file storage with the given replicas); the rest use what is there.
    var store = options.Mode == "put"
        ? await objects.CreateObjectStoreAsync(new NatsObjConfig(options.Bucket) { NumberOfReplicas = options.Replicas, Storage = NatsObjStorageType.File }, stop.Token)
        : await objects.GetObjectStoreAsync(options.Bucket, stop.Token);
    var openSeconds = opened.Elapsed.TotalSeconds;

    var clock = Stopwatch.StartNew();
    long bytes = 0;
    if (options.Mode == "delete")
    {
        await store.DeleteAsync(options.Name, stop.Token);
    }
    else if (options.Mode == "purge")
    {
        // The object store's stream is OBJ_{bucket} (ADR-20); purging it drops every object and its metadata.
        await new NatsJSContext(connection).PurgeStreamAsync("OBJ_" + options.Bucket, new NATS.Client.JetStream.Models.StreamPurgeRequest(), stop.Token);
    }
    else if (options.Mode == "put")
    {
        await using var source = new FileStream(options.File, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        var info = await store.PutAsync(options.Name, source, leaveOpen: true, stop.Token);
        bytes = (long)info.Size;
    }
    else
    {
        await using var target = new FileStream(options.File, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true);
        var info = await store.GetAsync(options.Name, target, leaveOpen: true, stop.Token);
        await target.FlushAsync(stop.Token);
        bytes = (long)info.Size;
    }
    var seconds = clock.Elapsed.TotalSeconds;
    var cpu = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $$"""{"mode":"{{options.Mode}}","ok":true,"bytes":{{bytes}},"open_seconds":{{openSeconds:0.###}},"transfer_seconds":{{seconds:0.###}},"mb_s":{{(seconds > 0 ? bytes / 1e6 / seconds : 0):0.#}},"cpu_seconds":{{cpu:0.###}},"nats_server":"{{connection.ServerInfo?.Version}}"}"""));
    return 0;
}
catch (UsageException ex)
{
    Console.Error.WriteLine($"ferry-nats-baseline: {ex.Message}");
    return 2;
}
catch (Exception ex) when (ex is NatsException or NatsJSException or IOException or OperationCanceledException or TimeoutException)
{
    Console.Error.WriteLine($"ferry-nats-baseline: {ex.GetType().Name}: {ex.Message}");
    Console.WriteLine($$"""{"ok":false,"error":"{{ex.GetType().Name}}"}""");
    return 1;
}
