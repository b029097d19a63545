using System.Diagnostics;

namespace KfuncForge.Compilation;

/// <summary>
/// Runs build cells concurrently, at most `jobs` at a time. A cell that throws becomes a failed cell
/// with the exception's message; the others carry on. Results come back in the order the cells were given.
/// </summary>
public static class CellScheduler
{
    public sealed record Cell(string Distro, string Kernel, string Module, Func<CancellationToken, Task<CellResult>> Run);

    public static async Task<IReadOnlyList<CellResult>> RunAsync(IReadOnlyList<Cell> cells, int jobs, Action<CellResult>? onDone = null, CancellationToken cancellation = default)
    {
        using var gate = new SemaphoreSlim(Math.Max(1, jobs));
        var tasks = cells.Select(async cell =>
        {
            await gate.WaitAsync(cancellation);
            var watch = Stopwatch.StartNew();
            try
            {
                var result = await Task.Run(() => cell.Run(cancellation), cancellation);
                onDone?.Invoke(result);
                return result;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                var result = new CellResult(cell.Distro, cell.Kernel, cell.Module, CellOutcome.Failed, e.Message, watch.Elapsed);
                onDone?.Invoke(result);
                return result;
            }
            finally
            {
                gate.Release();
            }
        }).ToList();
        return await Task.WhenAll(tasks);
    }
}
