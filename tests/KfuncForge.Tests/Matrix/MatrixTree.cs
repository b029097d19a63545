using System.Diagnostics;
using KfuncForge.Matrix;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Matrix;

/// <summary>
/// A source tree of the repository's distro profiles and the two fixture modules (one builds, one
/// does not), and helpers to run the real matrix verb on it: in process, or as its own process
/// (to kill it). The kernels come from the live Debian index through the user's cache, as in RealKernel.
/// </summary>
public sealed class MatrixTree : IDisposable
{
    public Infrastructure.TempDir Temp { get; } = new();
    public string Source => Temp.Combine("src");
    public string Out => Temp.Combine("out");
    public string ReportDir => Path.Combine(Out, "matrix");
    public string Store => Path.Combine(ReportDir, "cells");

    public static string CacheRoot => Environment.GetEnvironmentVariable("KFUNCFORGE_TEST_CACHE") is { Length: > 0 } c ? c : KfuncForge.Caching.CacheDirectory.DefaultRoot();

    public MatrixTree() => RealKernel.MakeSourceTree(Source);

    public string[] Args(params string[] extra) =>
        ["matrix", $"--root={Source}", $"--templates={TestTree.Templates}", $"--out={Out}", $"--cache={CacheRoot}", "--progress=plain", .. extra];

    public CliResult Run(params string[] extra) => TestTree.Run(Args(extra));

    public MatrixDocument Report(string? path = null) => MatrixDocument.Load(path ?? Path.Combine(ReportDir, "matrix.json"), "report");

    /// <summary>Finished cells in the store: key → record.json bytes.</summary>
    public Dictionary<string, byte[]> StoredRecords() =>
        !Directory.Exists(Store) ? []
        : Directory.GetDirectories(Store).Where(d => !Path.GetFileName(d).StartsWith('.'))
            .ToDictionary(d => Path.GetFileName(d), d => File.ReadAllBytes(Path.Combine(d, CellStore.RecordFile)));

    /// <summary>The engine as its own process (the kfuncforge.dll beside the tests), output captured.</summary>
    public static Process Start(IEnumerable<string> args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "kfuncforge.dll"));
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["CI"] = "true";
        var p = Process.Start(info)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>The cells' outcomes without what differs between runs of the same inputs (times, run ids, reuse).</summary>
    public static IEnumerable<string> Outcomes(MatrixDocument doc) =>
        doc.Cells.Select(c => string.Join("|", c.Id, c.Key, c.Status, c.Reason ?? "",
            string.Join(",", c.Kfuncs.Select(k => $"{k.Kfunc}:{k.Verdict}:{k.Smoke}")),
            string.Join(",", c.Stages.Ran().Select(s => $"{s.Stage}:{s.Outcome.Status}"))));

    public void Dispose() => Temp.Dispose();
}
