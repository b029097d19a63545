using KfuncForge.Compilation;

namespace KfuncForge.Tests.Compilation;

public sealed class BuildBenchmarkTests
{
    private static TimeSpan S(double s) => TimeSpan.FromSeconds(s);

    [Fact]
    public void Medians_and_ratios_are_reported_side_by_side()
    {
        var samples = new[] { new BenchSample(1, S(2.2), S(2.0), S(2.1)), new BenchSample(2, S(2.6), S(2.0), S(2.4)), new BenchSample(3, S(2.4), S(2.4), S(2.3)) };
        Assert.Equal(S(2.4), BuildBenchmark.Median(samples.Select(s => s.Engine)));
        Assert.Equal(S(2.2), BuildBenchmark.Median([S(2.0), S(2.4)]));
        var report = BuildBenchmark.Report(samples, "m on k (bwrap)");
        Assert.Contains("median 2.400 s", report);
        Assert.Contains("median 2.000 s", report);
        Assert.Contains("ratio engine / bare: 1.200 of the medians; 1.100 median of the per-repetition ratios", report);
        Assert.Contains("around kbuild (render, copy, checks, log): median 100 ms", report);
    }
}
