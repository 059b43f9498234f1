using Ferry.Server.Handlers;
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
        services.AddSingleton<ICommandHandler, HelloHandler>();
        services.AddSingleton<ICommandHandler, EchoHandler>();
        services.AddSingleton<ICommandHandler, ByeHandler>();
        services.TryAddSingleton<FerryServer>();
        services.AddHostedService(sp => sp.GetRequiredService<FerryServer>());
        return services;
    }
}
