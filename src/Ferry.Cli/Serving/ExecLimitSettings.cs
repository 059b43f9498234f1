using Ferry.Server.Hosting;
using Microsoft.Extensions.Configuration;

namespace Ferry.Cli.Serving;

/// <summary>
/// The <c>exec_limits</c> object of the serve settings: resource limits of every command (docs/deploy.md). A limit set
/// to null in the file means no limit.
/// </summary>
public sealed class ExecLimitSettings
{
    [ConfigurationKeyName("open_files")] public long? OpenFiles { get; set; } = ExecLimits.Default.OpenFiles;
    [ConfigurationKeyName("processes")] public long? Processes { get; set; } = ExecLimits.Default.Processes;
    [ConfigurationKeyName("cpu_seconds")] public long? CpuSeconds { get; set; } = ExecLimits.Default.CpuSeconds;
    /// <summary>Bytes of address space per process.</summary>
    [ConfigurationKeyName("address_space")] public long? AddressSpace { get; set; } = ExecLimits.Default.AddressSpaceBytes;
}
