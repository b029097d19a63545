using KfuncForge.Diagnostics;
using KfuncForge.Model;

namespace KfuncForge.Planning;

/// <summary>Chooses the kernels a run works on: every target of the profile, or the one named by --kernel.</summary>
public static class KernelSelection
{
    /// <summary>
    /// Without --kernel: every target, known by its line until Fetch resolves it. With --kernel: a release
    /// of one of the profile's targets (its explicit release, or a release of a selector's line), or a
    /// line such as 6.1.
    /// </summary>
    public static IReadOnlyList<KernelFacts> Select(DistroProfile distro, string? kernel)
    {
        if (kernel is null) return distro.Kernels.Select(t => KernelFacts.Nominal(t, distro.BpfLevel)).ToList();

        var exact = distro.Kernels.Where(t => t.Release == kernel || t.Key == kernel).ToList();
        if (exact.Count > 0) return exact.Select(t => KernelFacts.Nominal(t, distro.BpfLevel)).ToList();

        if (KernelVersion.TryParse(kernel, out var version))
        {
            var byLine = distro.Kernels.Where(t => t.Line.Major == version.Major && t.Line.Minor == version.Minor).ToList();
            var isLine = kernel.Count(c => c == '.') == 1 && kernel.All(c => char.IsDigit(c) || c == '.');
            if (byLine.Count > 0 && isLine) return byLine.Select(t => KernelFacts.Nominal(t, distro.BpfLevel)).ToList();
            var selector = byLine.FirstOrDefault(t => !t.IsExplicit);
            if (selector is not null)
                return [new KernelFacts(kernel, version, selector.Flavour, null, null, null, distro.BpfLevel)];
        }
        throw new InputException(new Problem("--kernel", 0, 0, "", $"kernel '{kernel}' is not a target of {distro.Id}; its targets are: {string.Join("; ", distro.Kernels)} (give a release of one of those lines, or a line such as {distro.Kernels[0].Line})"));
    }
}
