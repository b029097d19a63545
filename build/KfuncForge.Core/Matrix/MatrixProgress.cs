using System.Diagnostics;
using System.Globalization;

namespace KfuncForge.Matrix;

/// <summary>
/// Progress on the terminal. Interactive: finished cells scroll by and a status line stays at the
/// bottom (done / running / queued, ETA), redrawn every second. Otherwise (CI, a pipe): one plain
/// line per event, nothing redrawn.
/// </summary>
public sealed class MatrixProgress : IMatrixObserver, IDisposable
{
    private readonly TextWriter _out;
    private readonly bool _live;
    private readonly int _jobs;
    private readonly Lock _lock = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Dictionary<string, double> _expected = new(StringComparer.Ordinal);
    private readonly HashSet<string> _running = new(StringComparer.Ordinal);
    private readonly HashSet<string> _finished = new(StringComparer.Ordinal);
    private Timer? _timer;
    private int _total, _done, _failed, _reused;
    private double _expectedDone, _actualDone;

    public MatrixProgress(TextWriter output, bool live, int jobs)
    {
        _out = output;
        _live = live;
        _jobs = Math.Max(1, jobs);
    }

    /// <summary>A live view only on an interactive terminal that is not a CI job.</summary>
    public static bool IsInteractive() =>
        !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("CI") is null or "" or "false"
        && Environment.GetEnvironmentVariable("TERM") is not (null or "" or "dumb");

    public void Planned(int total, int reused, int toRun, IReadOnlyDictionary<string, double> expectedSeconds)
    {
        lock (_lock)
        {
            _total = total;
            foreach (var (id, s) in expectedSeconds) _expected[id] = s;
            Write($"matrix: {total} cells in this shard: {reused} reused from the store, {toRun} to run (expected {Duration(expectedSeconds.Values.Sum() / _jobs)} with {_jobs} at a time)");
            if (_live) _timer = new Timer(_ => { lock (_lock) Status(); }, null, 1000, 1000);
        }
    }

    public void Started(string id)
    {
        lock (_lock)
        {
            _running.Add(id);
            if (_live) Status();
            else Write($"start   {id}");
        }
    }

    public void Finished(CellRecord record, bool reused)
    {
        lock (_lock)
        {
            _running.Remove(record.Id);
            _finished.Add(record.Id);
            _done++;
            if (reused) _reused++;
            if (record.Status == CellStatus.Fail) _failed++;
            if (!reused && _expected.TryGetValue(record.Id, out var e))
            {
                _expectedDone += e;
                _actualDone += record.Seconds;
            }
            var how = reused ? "reused" : record.Seconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";
            Write($"{record.Status,-10} {record.Id} ({how}){(record.Reason is null ? "" : ": " + Short(record.Reason))}");
        }
    }

    public void Note(string line)
    {
        lock (_lock) Write(line);
    }

    /// <summary>What is left, in seconds: expected costs of queued and running cells, corrected by how the finished ones compared with their expectation.</summary>
    public double EtaSeconds()
    {
        lock (_lock)
        {
            var remaining = _expected.Where(e => !_finished.Contains(e.Key)).Sum(e => e.Value);
            var speed = _expectedDone > 0 ? _actualDone / _expectedDone : 1;
            return remaining * speed / _jobs;
        }
    }

    private void Write(string line)
    {
        if (_live)
        {
            _out.Write("\r\u001b[2K");
            _out.WriteLine(line);
            Status();
        }
        else _out.WriteLine(line);
        _out.Flush();
    }

    private void Status()
    {
        if (!_live || _total == 0) return;
        var queued = _total - _done - _running.Count;
        var eta = Duration(EtaSeconds());
        _out.Write($"\r\u001b[2K\u001b[1m[{_done}/{_total}]\u001b[0m done {_done} ({_reused} reused, {_failed} failed) · running {_running.Count} · queued {queued} · elapsed {Duration(_clock.Elapsed.TotalSeconds)} · ETA {eta}");
        _out.Flush();
    }

    public static string Duration(double seconds)
    {
        var t = TimeSpan.FromSeconds(Math.Max(0, seconds));
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:00}m" : t.TotalMinutes >= 1 ? $"{t.Minutes}m{t.Seconds:00}s" : $"{t.Seconds}s";
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _timer?.Dispose();
            if (_live) { _out.Write("\r\u001b[2K"); _out.Flush(); }
        }
    }

    private static string Short(string text) => text.Length > 160 ? text[..160] + "…" : text;
}
