using Ferry.Server.Auth;
using Ferry.Server.Handlers;
using Ferry.Server.Handlers.Files;
using Ferry.Server.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Ferry.Server.Hosting;

public static class ServiceCollectionExtensions
{
    /// <summary>Registers the Ferry server as a hosted service with its built-in command handlers.</summary>
    public static IServiceCollection AddFerryServer(this IServiceCollection services, FerryServerOptions options)
    {
        options.Validate();
        services.TryAddSingleton<IOptions<FerryServerOptions>>(Options.Create(options));
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.TryAddSingleton<Diagnostics.FerryMetrics>();
        services.TryAddSingleton(_ => new UploadRegistry(options.MaxOpenUploads, options.MaxOpenUploadsPerUser));
        // Users and files, each from the store chosen here; a provider registered before this call replaces the default.
        services.TryAddSingleton(_ => new UserDirectory(options));
        services.TryAddSingleton<IUserStore>(sp => sp.GetRequiredService<UserDirectory>());
        services.TryAddSingleton<IFileStoreProvider>(sp => new LocalFileStoreProvider(options, sp.GetRequiredService<IUserStore>(), sp.GetRequiredService<UploadRegistry>()));
        services.TryAddSingleton<UsersFileReloader>();
        services.AddHostedService(sp => sp.GetRequiredService<UsersFileReloader>());
        services.TryAddSingleton(sp => new AuthThrottle(options.MaxAuthFailures, options.AuthFailureWindow, sp.GetRequiredService<TimeProvider>(),
            options.MaxAuthFailuresTotal, options.MaxAuthThrottleNetworks));
        services.TryAddSingleton<AuditLog>();
        services.TryAddSingleton<ConnectionCounter<string>>();
        services.TryAddSingleton(options);
        services.AddSingleton<ICommandHandler, HelloHandler>();
        services.AddSingleton<ICommandHandler, AuthHandler>();
        services.AddSingleton<ICommandHandler, EchoHandler>();
        services.AddSingleton<ICommandHandler, ByeHandler>();
        services.TryAddSingleton<SharedUploads>();
        services.AddSingleton<ICommandHandler, PutHandler>();
        services.AddSingleton<ICommandHandler, PutJoinHandler>();
        services.AddSingleton<ICommandHandler, PutDataHandler>();
        services.AddSingleton<ICommandHandler, PutEndHandler>();
        services.AddSingleton<ICommandHandler, PutFileHandler>();
        services.AddSingleton<ICommandHandler, PutFilesHandler>();
        services.AddSingleton<ICommandHandler, GetFilesHandler>();
        services.AddSingleton<ICommandHandler, GetHandler>();
        services.AddSingleton<ICommandHandler, HashesHandler>();
        services.AddSingleton<ICommandHandler, ListHandler>();
        services.AddSingleton<ICommandHandler, StatHandler>();
        services.AddSingleton<ICommandHandler, MkdirHandler>();
        services.AddSingleton<ICommandHandler, RemoveHandler>();
        services.AddSingleton<ICommandHandler, MoveHandler>();
        services.TryAddSingleton<Handlers.Sync.SyncDigests>();
        services.TryAddSingleton<Handlers.Sync.DeltaUploads>();
        services.TryAddSingleton<Handlers.Sync.CommittedFileDigests>();
        services.AddHostedService(sp => sp.GetRequiredService<Handlers.Sync.CommittedFileDigests>());
        services.AddSingleton<ICommandHandler, Handlers.Sync.ScanHandler>();
        services.AddSingleton<ICommandHandler, Handlers.Sync.ChunksHandler>();
        services.AddSingleton<ICommandHandler, Handlers.Sync.PutChunksHandler>();
        services.AddSingleton<ICommandHandler, Handlers.Sync.SetAttributesHandler>();
        services.AddSingleton<ICommandHandler, Handlers.Sync.SymlinkHandler>();
        services.TryAddSingleton<Exec.ExecLimiter>();
        services.TryAddSingleton<Exec.CommandSandbox>();
        services.AddHostedService(sp => sp.GetRequiredService<Exec.CommandSandbox>()); // refuses to start when commands cannot be confined
        services.TryAddSingleton<Exec.CommandRunner>();
        services.AddSingleton<ICommandHandler, Exec.ExecHandler>();
        services.TryAddSingleton(sp => new Udp.UdpExecServer(options, sp.GetRequiredService<IUserStore>(), sp.GetRequiredService<IFileStoreProvider>(),
            sp.GetRequiredService<Exec.ExecLimiter>(), sp.GetRequiredService<Exec.CommandRunner>(), sp.GetRequiredService<AuditLog>(),
            sp.GetRequiredService<Diagnostics.FerryMetrics>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<Udp.UdpExecServer>>()));
        services.AddHostedService(sp => sp.GetRequiredService<Udp.UdpExecServer>());
        services.AddHostedService<PartialUploadSweeper>();
        // Factories, not TryAddSingleton<FerryServer>(): their constructors take the file store provider, which is internal
        // (stores' signatures carry Ferry.Protocol's internal wire records), and the container only sees public constructors.
        services.TryAddSingleton(sp => new FerryServer(sp.GetRequiredService<IOptions<FerryServerOptions>>(), sp.GetServices<ICommandHandler>(),
            sp.GetRequiredService<IUserStore>(), sp.GetRequiredService<IFileStoreProvider>(), sp.GetRequiredService<AuditLog>(),
            sp.GetRequiredService<Diagnostics.FerryMetrics>(), sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<FerryServer>>(),
            sp.GetService<TimeProvider>(), sp.GetRequiredService<Exec.CommandRunner>()));
        services.AddHostedService(sp => sp.GetRequiredService<FerryServer>());
        return services;
    }
}
