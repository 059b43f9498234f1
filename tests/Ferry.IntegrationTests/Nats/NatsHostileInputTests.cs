using Ferry.Server.Storage;
using Ferry.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Ferry.IntegrationTests.Nats;

/// <summary>
/// The whole hostile-input catalog (its path rows are the root-jail cases, through every file command) against a server
/// whose files are on a NATS cluster: same refusals, same codes, nothing kept, a fresh client served, nothing outside.
/// The row that plants a symbolic link in the root's folder has no meaning there (the store holds no links) and is left out.
/// </summary>
[Collection(nameof(MemorySensitive))]
public sealed class NatsHostileInputTests(NatsStoreFixture nats, ITestOutputHelper output) : IClassFixture<NatsStoreFixture>
{
    public static TheoryData<string> Catalog => new(HostileCases.All.Where(c => !c.Value.LocalOnly).Select(c => c.Key));

    [Theory]
    [MemberData(nameof(Catalog))]
    public Task Hostile_input_is_refused_and_nothing_is_kept_on_a_nats_store(string hostileCase) =>
        HostileInputTests.RunAsync(hostileCase, output, (services, _) => services.AddSingleton<IFileStoreProvider>(nats.Provider));
}
