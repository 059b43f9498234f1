using System.Runtime.Versioning;

// The hash cache reads file identities with statx(2), which only Linux has; these tests run there.
[assembly: SupportedOSPlatform("linux")]
