using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Text;

namespace KfuncForge.Processes;

/// <summary>Runs external programs. The engine's only way to start one, so tests can assert argv lists.</summary>
public interface IProcessRunner
{
    Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellation = default);
}

/// <summary>The real runner: System.Diagnostics.Process with an argument list, output captured, killed (with its children) on timeout or cancellation.</summary>
public sealed class ProcessRunner : IProcessRunner
{
    public static readonly ProcessRunner Instance = new();

    public async Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellation = default)
    {
        var program = DiesWithEngine.Program(spec.FileName, spec.WorkingDirectory);
        if (program is null) return new ProcessResult(spec, 127, "", $"cannot start {spec.FileName}: no such program on PATH", TimeSpan.Zero, false);
        var info = new ProcessStartInfo(program.Value.FileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = spec.StdinFile is not null,
            UseShellExecute = false,
            WorkingDirectory = spec.WorkingDirectory ?? "",
        };
        foreach (var a in program.Value.Prefix) info.ArgumentList.Add(a);
        foreach (var a in spec.Arguments) info.ArgumentList.Add(a);
        foreach (var (k, v) in spec.Environment)
            if (v is null) info.Environment.Remove(k);
            else info.Environment[k] = v;

        using var process = new Process { StartInfo = info };
        var watch = Stopwatch.StartNew();
        switch (await Spawner.StartAsync(process).ConfigureAwait(false))
        {
            case null: break;
            case Win32Exception e: return new ProcessResult(spec, 127, "", $"cannot start {spec.FileName}: {e.Message}", watch.Elapsed, false);
            case var other: ExceptionDispatchInfo.Throw(other); break;
        }

        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        Task<string> stdout;
        if (spec.StdoutFile is { } outFile)
            stdout = CopyToFile(process.StandardOutput.BaseStream, outFile);
        else
            stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stdin = spec.StdinFile is { } inFile ? FeedStdin(process, inFile, spec.StdinOffset) : Task.CompletedTask;

        using var timeout = spec.Timeout is { } t ? new CancellationTokenSource(t) : new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellation, timeout.Token);
        var timedOut = false;
        try
        {
            await process.WaitForExitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            timedOut = timeout.IsCancellationRequested;
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            if (!timedOut) cancellation.ThrowIfCancellationRequested();
        }
        try { await stdin.ConfigureAwait(false); } catch (IOException) { /* the child closed its stdin early (it had read enough) */ }
        var result = new ProcessResult(spec, process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false), watch.Elapsed, timedOut);
        return result;
    }

    /// <summary>
    /// Every child ends when the engine ends, however it ends (SIGKILL included): it is started through
    /// util-linux's setpriv with --pdeathsig KILL, which sets PR_SET_PDEATHSIG and then execs the program,
    /// so QEMU (smoke, fidelity, the KVM probe, the install check, benchmarks), the sandbox and every tool
    /// are killed by the kernel when the engine goes. The program is resolved on PATH first, so a missing
    /// program is still "cannot start" rather than setpriv's own error. Without setpriv (not Linux), children
    /// start as they are.
    /// </summary>
    internal static class DiesWithEngine
    {
        private static readonly string? Setpriv = OperatingSystem.IsLinux() ? Find("setpriv") : null;

        public static (string FileName, IReadOnlyList<string> Prefix)? Program(string fileName, string? workingDirectory)
        {
            var path = Path.Combine(workingDirectory ?? Environment.CurrentDirectory, fileName);
            var resolved = fileName.Contains('/') ? (File.Exists(path) ? Path.GetFullPath(path) : null) : Find(fileName);
            if (resolved is null) return null;
            return Setpriv is null ? (resolved, []) : (Setpriv, ["--pdeathsig", "KILL", "--", resolved]);
        }

        private static string? Find(string name) =>
            (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
                .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);
    }

    /// <summary>
    /// Starts every child from one thread that lives as long as the engine. A child that asks to die with
    /// its parent (bwrap --die-with-parent, i.e. PR_SET_PDEATHSIG) is tied to the thread that forked it,
    /// not to the process, and the thread pool retires idle threads: a sandboxed build started from a pool
    /// thread was SIGKILLed mid-run (exit 137) when that thread went away.
    /// </summary>
    private static class Spawner
    {
        private static readonly BlockingCollection<(Process Process, TaskCompletionSource<Exception?> Started)> Queue = new();

        static Spawner() => new Thread(Loop) { IsBackground = true, Name = "kfuncforge-spawner" }.Start();

        public static Task<Exception?> StartAsync(Process process)
        {
            var started = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
            Queue.Add((process, started));
            return started.Task;
        }

        private static void Loop()
        {
            foreach (var (process, started) in Queue.GetConsumingEnumerable())
            {
                try
                {
                    process.Start();
                    started.SetResult(null);
                }
                catch (Exception e)
                {
                    started.SetResult(e);
                }
            }
        }
    }

    private static async Task<string> CopyToFile(Stream source, string path)
    {
        await using var target = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        await source.CopyToAsync(target).ConfigureAwait(false);
        return "";
    }

    private static async Task FeedStdin(Process process, string path, long offset)
    {
        await using (var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true))
        {
            input.Seek(offset, SeekOrigin.Begin);
            await input.CopyToAsync(process.StandardInput.BaseStream).ConfigureAwait(false);
        }
        process.StandardInput.Close();
    }
}

/// <summary>Convenience calls on any runner.</summary>
public static class ProcessRunnerExtensions
{
    /// <summary>Runs and throws ProcessFailedException (stderr and exit code kept) unless the process succeeded.</summary>
    public static async Task<ProcessResult> CheckedAsync(this IProcessRunner runner, ProcessSpec spec, CancellationToken cancellation = default) =>
        (await runner.RunAsync(spec, cancellation).ConfigureAwait(false)).EnsureSuccess();

    /// <summary>The full text of a finished process for a log file: command, exit, duration, stdout, stderr.</summary>
    public static string LogText(this ProcessResult r)
    {
        var sb = new StringBuilder();
        sb.Append("$ ").Append(r.Spec.Display).Append('\n');
        sb.Append(r.Stdout);
        if (r.Stdout.Length > 0 && !r.Stdout.EndsWith('\n')) sb.Append('\n');
        if (r.Stderr.Length > 0) sb.Append(CommandLine.Redact(r.Stderr, r.Spec.Secrets)).Append(r.Stderr.EndsWith('\n') ? "" : "\n");
        sb.Append($"# exit {r.ExitCode}{(r.TimedOut ? " (timed out)" : "")} after {r.Duration.TotalSeconds:0.00} s\n");
        return sb.ToString();
    }
}
