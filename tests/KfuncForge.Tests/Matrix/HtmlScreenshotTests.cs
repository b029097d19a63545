using System.Globalization;
using KfuncForge.Matrix;
using KfuncForge.Processes;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Matrix;

/// <summary>The HTML report of a real (plan-stage) matrix run, opened in headless Chromium with the network pointed nowhere.</summary>
public sealed class HtmlScreenshotTests
{
    /// <summary>Where the screenshot is kept for people to look at: artifacts/test-output/matrix-report.png.</summary>
    public static string ScreenshotPath => Path.Combine(TestTree.RepoRoot, "artifacts", "test-output", "matrix-report.png");

    [IntegrationFact]
    public void The_report_renders_offline_in_headless_chromium_with_the_grid_in_colour()
    {
        if (!RealKernel.OnPath("chromium")) Assert.Fail("chromium is missing: install build/host-packages.txt (dotnet cake --target=Setup)");
        using var tree = new MatrixTree();
        // debian12 (real kernels, plan with their facts) and rhel9 (no container engine here: skipped).
        var run = tree.Run("--distro=debian12,rhel9", "--until=plan");
        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        var html = Path.Combine(tree.ReportDir, "matrix.html");
        var text = File.ReadAllText(html);
        Assert.DoesNotContain("http://", text.Replace("http://www.w3.org/2000/svg", ""));
        Assert.DoesNotContain("https://", text);

        var png = tree.Temp.Combine("shot.png");
        var result = ProcessRunner.Instance.RunAsync(new ProcessSpec("chromium",
        [
            "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
            $"--user-data-dir={tree.Temp.Combine("chromium-profile")}",
            $"--screenshot={png}", "--window-size=1200,900", new Uri(html).AbsoluteUri,
        ]) { Timeout = TimeSpan.FromMinutes(2) }).GetAwaiter().GetResult();
        Assert.True(File.Exists(png), $"chromium wrote no screenshot (exit {result.ExitCode}): {result.Stderr}");
        Directory.CreateDirectory(Path.GetDirectoryName(ScreenshotPath)!);
        File.Copy(png, ScreenshotPath, overwrite: true);

        Assert.True(new FileInfo(png).Length > 10_000, "the screenshot is suspiciously small");
        var image = PngImage.Read(png);
        Assert.Equal((1200, 900), (image.Width, image.Height));
        // The grid is in colour: debian12's backports were planned but not smoke-tested (a plan-only run),
        // rhel9's cells are skipped. Legend swatches are about 1,300 pixels each; a grid cell is larger.
        var counts = HtmlReport.Colours.ToDictionary(c => c.Key, c => Count(image, c.Value));
        var legend = counts["fail"];   // no cell fails here: red is only the legend's swatch
        Assert.InRange(legend, 200, 3000);
        Assert.True(counts["not_tested"] > legend + 4 * 600, $"planned, not yet tested: {counts["not_tested"]} pixels");
        Assert.True(counts["skipped"] > legend + 2 * 600, $"skipped grey: {counts["skipped"]} pixels");
        // The first grid row (debian12, first kernel) is the "not tested" colour where its first cell is.
        var row = Enumerable.Range(0, image.Height).First(y => Enumerable.Range(0, image.Width).Count(x => Hex(image.Pixel(x, y)) == HtmlReport.Colours["not_tested"]) > 40);
        Assert.True(row > 100, "the grid is below the header and the legend");
    }

    private static string Hex((byte R, byte G, byte B) p) => $"#{p.R:x2}{p.G:x2}{p.B:x2}";

    private static int Count(PngImage image, string hex)
    {
        var r = int.Parse(hex[1..3], NumberStyles.HexNumber);
        var g = int.Parse(hex[3..5], NumberStyles.HexNumber);
        var b = int.Parse(hex[5..7], NumberStyles.HexNumber);
        var n = 0;
        for (var y = 0; y < image.Height; y++)
            for (var x = 0; x < image.Width; x++)
                if (image.Pixel(x, y) == ((byte)r, (byte)g, (byte)b)) n++;
        return n;
    }
}
