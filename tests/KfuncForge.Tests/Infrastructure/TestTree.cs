using KfuncForge.Cli;

namespace KfuncForge.Tests.Infrastructure;

/// <summary>Paths into the repository the tests run from, and helpers for real files in unique temp folders.</summary>
public static class TestTree
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Templates => Path.Combine(RepoRoot, "templates");
    public static string Fixtures => Path.Combine(RepoRoot, "tests", "fixtures");
    public static string Golden => Path.Combine(RepoRoot, "tests", "golden");

    // The build output may sit outside the repository (-p:ArtifactsPath=/tmp/...), so the source file's own path is tried too.
    private static string FindRepoRoot([System.Runtime.CompilerServices.CallerFilePath] string thisFile = "")
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(thisFile) ?? "" })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "build.cake")) && Directory.Exists(Path.Combine(dir.FullName, "templates")))
                    return dir.FullName;
        throw new InvalidOperationException("cannot find the repository root (a folder with build.cake and templates/) above " + AppContext.BaseDirectory + " or " + thisFile);
    }

    /// <summary>A fresh temp folder, deleted when disposed.</summary>
    public static TempDir Temp() => new();

    public static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)), overwrite: true);
    }

    /// <summary>Runs the engine's command line in-process and returns exit code, stdout and stderr.</summary>
    public static CliResult Run(params string[] args)
    {
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        var code = Cli.Cli.Run(args, stdout, stderr);
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }
}

public sealed record CliResult(int ExitCode, string Stdout, string Stderr);

public sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "kfuncforge-test-" + Guid.NewGuid().ToString("N"));

    public TempDir() => Directory.CreateDirectory(Path);

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        try { Directory.Delete(Path, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
