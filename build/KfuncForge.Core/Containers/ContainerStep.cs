using KfuncForge.Model;
using KfuncForge.Processes;

namespace KfuncForge.Containers;

/// <summary>A host folder mounted at Target inside the environment; read-only unless Writable.</summary>
public sealed record Mount(string Source, string Target, bool Writable = false);

/// <summary>
/// One command to run inside a distro's build environment. Layers are host folders laid over the
/// environment's root, read-only (a kernel tree extracted from its packages appears at its real paths,
/// /usr/src/linux-headers-*, without the cached tree or the rootfs being changed). Mounts are binds on top.
/// Network is off unless asked for (only package index updates and downloads need it).
/// </summary>
public sealed record ContainerStep(IReadOnlyList<string> Argv)
{
    public IReadOnlyList<string> Layers { get; init; } = [];
    public IReadOnlyList<Mount> Mounts { get; init; } = [];
    public bool Network { get; init; }
    public string WorkingDirectory { get; init; } = "/";
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
    public TimeSpan? Timeout { get; init; }
}

/// <summary>Whether a backend can work on this machine, and if not, why (in words a user can act on).</summary>
public sealed record ContainerProbe(string Backend, bool Available, string Reason);

/// <summary>One way to run build steps in a distro's environment: bubblewrap over an mmdebstrap rootfs, podman or docker.</summary>
public interface IContainerRunner
{
    string Name { get; }

    /// <summary>Checks the backend can run here at all (tools present, engine reachable).</summary>
    Task<ContainerProbe> ProbeAsync(CancellationToken cancellation = default);

    /// <summary>Why this backend cannot serve this profile, or null when it can.</summary>
    string? CannotServe(DistroProfile distro);

    /// <summary>Makes the distro's environment ready (builds or pulls it; cached).</summary>
    Task PrepareAsync(DistroProfile distro, Action<string> log, CancellationToken cancellation = default);

    /// <summary>The exact host command that runs the step (pure: for logs, tests and the benchmark).</summary>
    ProcessSpec Command(DistroProfile distro, ContainerStep step);

    Task<ProcessResult> RunAsync(DistroProfile distro, ContainerStep step, CancellationToken cancellation = default);
}
