using KfuncForge.Caching;
using KfuncForge.Diagnostics;
using KfuncForge.Model;
using KfuncForge.Processes;

namespace KfuncForge.Containers;

/// <summary>Chooses the backend: the one --container names (failing with its reason when it cannot work), else the first that can.</summary>
public static class ContainerSelection
{
    public static readonly string[] Known = ["bwrap", "podman", "docker"];

    public static IContainerRunner Create(string name, CacheDirectory cache, IProcessRunner processes) => name switch
    {
        "bwrap" => new BwrapRunner(cache, AptMirrors.FromHost(), processes),
        "podman" => EngineRunner.Podman(processes, new BwrapRunner(cache, AptMirrors.FromHost(), processes)),
        "docker" => EngineRunner.Docker(processes),
        _ => throw new InputException(new Problem("--container", 0, 0, "", $"unknown container backend '{name}'; use one of {string.Join(", ", Known)}")),
    };

    public static async Task<IContainerRunner> SelectAsync(string? requested, DistroProfile distro, CacheDirectory cache, IProcessRunner processes, Action<string> log, CancellationToken cancellation = default)
    {
        if (requested is not null)
        {
            var runner = Create(requested, cache, processes);
            if (runner.CannotServe(distro) is { } why) throw new StageException($"--container={requested}: {why}");
            var probe = await runner.ProbeAsync(cancellation);
            if (!probe.Available) throw new StageException($"--container={requested} cannot work here: {probe.Reason}");
            return runner;
        }
        var reasons = new List<string>();
        foreach (var name in Known)
        {
            var runner = Create(name, cache, processes);
            if (runner.CannotServe(distro) is { } why) { reasons.Add($"{name}: {why}"); continue; }
            var probe = await runner.ProbeAsync(cancellation);
            if (probe.Available)
            {
                log($"container backend: {name} ({probe.Reason})");
                return runner;
            }
            reasons.Add($"{name}: {probe.Reason}");
        }
        throw new StageException($"no container backend can build {distro.Id} here:\n  " + string.Join("\n  ", reasons));
    }
}
