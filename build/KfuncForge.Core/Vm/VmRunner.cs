using System.Diagnostics;
using System.Text;
using KfuncForge.Processes;

namespace KfuncForge.Vm;

/// <summary>One boot to run: kernel, initramfs, machine shape, hard timeout, and the folder for its logs.</summary>
public sealed record BootRequest(string Id, string Kernel, string Initrd, VmShape Shape, TimeSpan Timeout, string Directory)
{
    public IReadOnlyList<string> ExtraKernelArguments { get; init; } = [];

    /// <summary>UEFI firmware to boot through (Secure Boot); none means QEMU's direct kernel boot.</summary>
    public UefiFirmware? Firmware { get; init; }

    public string ConsoleLog => Path.Combine(Directory, "console.log");
    public string RecordsLog => Path.Combine(Directory, "records.jsonl");
}

/// <summary>How a boot ended.</summary>
public enum BootOutcome
{
    /// <summary>The agent's PID 1 reported how the worker ended and QEMU exited.</summary>
    Completed,
    /// <summary>The hard timeout killed QEMU.</summary>
    TimedOut,
    /// <summary>The kernel panicked (QEMU exits by itself: panic=-1 with -no-reboot).</summary>
    Panicked,
    /// <summary>QEMU ended without the agent's exit record and without a panic (reset, crash of QEMU).</summary>
    Died,
    /// <summary>QEMU could not start or refused its arguments.</summary>
    QemuFailed,
}

/// <summary>What a boot left: outcome, records, console faults, logs and timings (host clock).</summary>
public sealed record BootResult(
    BootRequest Request,
    BootOutcome Outcome,
    string Detail,
    IReadOnlyList<GuestRecord> Records,
    IReadOnlyList<ConsoleFault> Faults,
    int ExitCode,
    TimeSpan Wall,
    TimeSpan? FirstRecordAt,
    TimeSpan? DoneAt,
    string QemuStderr)
{
    public HelloRecord? Hello => Records.OfType<HelloRecord>().FirstOrDefault();
    public DoneRecord? Done => Records.OfType<DoneRecord>().FirstOrDefault();
    public ExitRecord? Exit => Records.OfType<ExitRecord>().FirstOrDefault();

    /// <summary>The step the agent announced last and never reported on (what was running when the boot ended badly).</summary>
    public BeginRecord? UnfinishedStep
    {
        get
        {
            BeginRecord? open = null;
            foreach (var r in Records)
                switch (r)
                {
                    case BeginRecord b: open = b; break;
                    case ModuleRecord m when open is { Step: "module" } && open.Module == m.Module: open = null; break;
                    case SmokeRecord s when open is { Step: "smoke" } && open.Module == s.Module && open.Name == s.Name: open = null; break;
                    case LoadRecord l when open is { Step: "load" } && open.Module == l.Module && open.Name == l.Name: open = null; break;
                }
            return open;
        }
    }
}

/// <summary>Typed events of a boot, in order, for reporters (streamed while the VM runs).</summary>
public abstract record VmEvent(string BootId, TimeSpan At);

public sealed record BootStarted(string BootId, TimeSpan At, string Command, Accelerator Accelerator) : VmEvent(BootId, At);

public sealed record ConsoleLine(string BootId, TimeSpan At, int Number, string Text) : VmEvent(BootId, At);

public sealed record RecordReceived(string BootId, TimeSpan At, GuestRecord Record) : VmEvent(BootId, At);

public sealed record FaultDetected(string BootId, TimeSpan At, ConsoleFault Fault) : VmEvent(BootId, At);

public sealed record BootFinished(string BootId, TimeSpan At, BootResult Result) : VmEvent(BootId, At);

/// <summary>Boots a kernel in QEMU and reports what happened. The seam tests and schedulers depend on.</summary>
public interface IVmRunner
{
    Task<BootResult> RunAsync(BootRequest request, Action<VmEvent>? events = null, CancellationToken cancellation = default);
}

/// <summary>
/// The real runner: QEMU through the process runner (argv list, hard timeout, killed with its children),
/// with both serial files tailed while it runs. Records become RecordReceived events, console lines
/// ConsoleLine events; console lines are only scanned for kernel faults.
/// </summary>
public sealed class QemuVmRunner(IProcessRunner runner) : IVmRunner
{
    /// <summary>How long QEMU may take to exit after a panic or after the agent's exit record before it is killed.</summary>
    public static readonly TimeSpan ExitGrace = TimeSpan.FromSeconds(15);

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    public async Task<BootResult> RunAsync(BootRequest request, Action<VmEvent>? events = null, CancellationToken cancellation = default)
    {
        Directory.CreateDirectory(request.Directory);
        File.Delete(request.ConsoleLog);
        File.Delete(request.RecordsLog);
        var argv = QemuCommand.Arguments(request.Shape, request.Kernel, request.Initrd, request.ConsoleLog, request.RecordsLog, request.ExtraKernelArguments, request.Firmware);
        var spec = new ProcessSpec(QemuCommand.Binary, argv) { Timeout = request.Timeout };
        var clock = Stopwatch.StartNew();
        events?.Invoke(new BootStarted(request.Id, clock.Elapsed, spec.Display, request.Shape.Accelerator));

        using var early = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var qemu = runner.RunAsync(spec, early.Token);
        var console = new Tail(request.ConsoleLog);
        var recordsTail = new Tail(request.RecordsLog);
        var scanner = new ConsoleFaultScanner();
        var records = new List<GuestRecord>();
        TimeSpan? firstRecord = null, done = null, endSignal = null;
        string? earlyKill = null;
        var consoleLines = 0;

        void Drain(bool final)
        {
            foreach (var line in console.ReadLines(final))
            {
                consoleLines++;
                events?.Invoke(new ConsoleLine(request.Id, clock.Elapsed, consoleLines, line));
                if (scanner.Add(line) is { } fault)
                {
                    events?.Invoke(new FaultDetected(request.Id, clock.Elapsed, fault));
                    if (fault.Kind == FaultKind.Panic) endSignal ??= clock.Elapsed;
                }
            }
            foreach (var line in recordsTail.ReadLines(final))
            {
                if (line.Trim('\0', ' ', '\r').Length == 0) continue;
                var record = GuestRecords.Parse(line);
                records.Add(record);
                firstRecord ??= clock.Elapsed;
                if (record is DoneRecord) done ??= clock.Elapsed;
                if (record is ExitRecord) endSignal ??= clock.Elapsed;
                events?.Invoke(new RecordReceived(request.Id, clock.Elapsed, record));
            }
        }

        ProcessResult? result = null;
        try
        {
            while (!qemu.IsCompleted)
            {
                await Task.WhenAny(qemu, Task.Delay(Poll, CancellationToken.None)).ConfigureAwait(false);
                Drain(final: false);
                if (endSignal is { } since && clock.Elapsed - since > ExitGrace && earlyKill is null)
                {
                    earlyKill = $"QEMU did not exit within {ExitGrace.TotalSeconds:0} s after the guest finished or panicked";
                    early.Cancel();
                }
            }
            result = await qemu.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested && earlyKill is not null)
        {
            // Killed by us (see earlyKill); the logs say what happened before.
        }
        finally
        {
            Drain(final: true);
            console.Dispose();
            recordsTail.Dispose();
        }
        var wall = clock.Elapsed;

        var exit = records.OfType<ExitRecord>().FirstOrDefault();
        var panic = scanner.Faults.FirstOrDefault(f => f.Kind == FaultKind.Panic);
        var (outcome, detail) = result switch
        {
            { TimedOut: true } => (BootOutcome.TimedOut, $"killed after the hard timeout of {request.Timeout.TotalSeconds:0} s"),
            _ when panic is not null => (BootOutcome.Panicked, panic.Text),
            _ when exit is not null => (BootOutcome.Completed, exit.Signal is { } sig ? $"agent killed by signal {sig} ({exit.SignalName})" : $"agent exited with code {exit.Code}"),
            null => (BootOutcome.Died, earlyKill ?? "QEMU was stopped"),
            { ExitCode: not 0 } when firstRecord is null && consoleLines == 0 => (BootOutcome.QemuFailed, $"QEMU exited with code {result.ExitCode}: {CommandLine.Tail(result.Stderr, 6)}"),
            _ => (BootOutcome.Died, $"QEMU exited (code {result.ExitCode}) without the agent's exit record or a panic on the console"),
        };
        var boot = new BootResult(request, outcome, detail, records, scanner.Faults, result?.ExitCode ?? -1, wall, firstRecord, done, result?.Stderr ?? "");
        events?.Invoke(new BootFinished(request.Id, wall, boot));
        return boot;
    }

    /// <summary>Reads lines appended to a file that another process is writing (created late, never truncated).</summary>
    private sealed class Tail(string path) : IDisposable
    {
        private FileStream? _stream;
        private readonly Decoder _decoder = new UTF8Encoding(false, false).GetDecoder();
        private readonly StringBuilder _pending = new();
        private readonly byte[] _bytes = new byte[1 << 16];
        private readonly char[] _chars = new char[(1 << 16) + 8];

        public IEnumerable<string> ReadLines(bool final)
        {
            if (_stream is null)
            {
                if (!File.Exists(path)) yield break;
                try { _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete); }
                catch (IOException) { yield break; }
            }
            int n;
            while ((n = _stream.Read(_bytes, 0, _bytes.Length)) > 0)
            {
                var c = _decoder.GetChars(_bytes, 0, n, _chars, 0);
                _pending.Append(_chars, 0, c);
            }
            var text = _pending.ToString();
            var start = 0;
            for (var nl = text.IndexOf('\n'); nl >= 0; nl = text.IndexOf('\n', start))
            {
                yield return text[start..nl].TrimEnd('\r');
                start = nl + 1;
            }
            _pending.Remove(0, start);
            if (final && _pending.Length > 0)
            {
                yield return _pending.ToString().TrimEnd('\r');
                _pending.Clear();
            }
        }

        public void Dispose() => _stream?.Dispose();
    }
}
