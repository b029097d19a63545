using KfuncForge.Matrix;
using KfuncForge.Tests.Infrastructure;
using YamlDotNet.RepresentationModel;

namespace KfuncForge.Tests.Matrix;

public sealed class CiDefinitionsTests
{
    private static List<YamlMappingNode> Parse(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return stream.Documents.Select(d => (YamlMappingNode)d.RootNode).ToList();
    }

    private static YamlNode At(YamlNode node, params string[] path) =>
        path.Aggregate(node, (n, key) => n is YamlSequenceNode seq ? seq.Children[int.Parse(key)] : ((YamlMappingNode)n).Children[new YamlScalarNode(key)]);

    private static string S(YamlNode node) => ((YamlScalarNode)node).Value!;

    [Fact]
    public void The_github_workflow_runs_one_job_per_shard_then_merges()
    {
        var doc = Assert.Single(Parse(CiDefinitions.Github(new CiSettings { Shards = 3 })));
        Assert.Equal(["0", "1", "2"], ((YamlSequenceNode)At(doc, "jobs", "shard", "strategy", "matrix", "shard")).Children.Select(S));
        Assert.Equal("false", S(At(doc, "jobs", "shard", "strategy", "fail-fast")));
        var steps = ((YamlSequenceNode)At(doc, "jobs", "shard", "steps")).Children.Cast<YamlMappingNode>().ToList();
        Assert.Contains(steps, s => s.Children.TryGetValue(new YamlScalarNode("run"), out var run) && S(run).Contains("dotnet cake --target=Matrix --shard=${{ matrix.shard }}/3"));
        Assert.Contains(steps, s => s.Children.TryGetValue(new YamlScalarNode("uses"), out var u) && S(u).StartsWith("actions/upload-artifact"));
        Assert.Equal("shard", S(At(doc, "jobs", "merge", "needs")));
        var merge = ((YamlSequenceNode)At(doc, "jobs", "merge", "steps")).Children.Cast<YamlMappingNode>().ToList();
        Assert.Contains(merge, s => s.Children.TryGetValue(new YamlScalarNode("run"), out var run) && S(run).Contains("--target=MatrixMerge"));
        Assert.Contains(merge, s => s.Children.TryGetValue(new YamlScalarNode("with"), out var w) && ((YamlMappingNode)w).Children.TryGetValue(new YamlScalarNode("pattern"), out var p) && S(p) == "matrix-shard-*");
        Assert.True(((YamlMappingNode)At(doc, "on")).Children.ContainsKey(new YamlScalarNode("schedule")));
    }

    [Fact]
    public void The_kubernetes_manifest_is_an_indexed_job_with_a_merge_job_after_it()
    {
        var docs = Parse(CiDefinitions.Kubernetes(new CiSettings { Shards = 4, Image = "registry.example/kff:1" }));
        var jobs = docs.Where(d => S(At(d, "kind")) == "Job").ToList();
        Assert.Equal(2, jobs.Count);
        var shards = jobs.Single(j => S(At(j, "metadata", "name")) == "kfuncforge-matrix");
        Assert.Equal("Indexed", S(At(shards, "spec", "completionMode")));
        Assert.Equal("4", S(At(shards, "spec", "completions")));
        Assert.Equal("4", S(At(shards, "spec", "parallelism")));
        var command = ((YamlSequenceNode)At(shards, "spec", "template", "spec", "containers", "0", "command")).Children.Select(S).ToList();
        Assert.Equal(["dotnet", "cake", "--target=Matrix", "--shard=$(JOB_COMPLETION_INDEX)/4", "--out=/results"], command);
        Assert.Equal("registry.example/kff:1", S(At(shards, "spec", "template", "spec", "containers", "0", "image")));
        var merge = jobs.Single(j => S(At(j, "metadata", "name")) == "kfuncforge-matrix-merge");
        var wait = ((YamlSequenceNode)At(merge, "spec", "template", "spec", "initContainers", "0", "command")).Children.Select(S).ToList();
        Assert.Equal(["kubectl", "wait", "--for=condition=complete", "job/kfuncforge-matrix", "--timeout=6h"], wait);
        Assert.Contains("--target=MatrixMerge", ((YamlSequenceNode)At(merge, "spec", "template", "spec", "containers", "0", "command")).Children.Select(S));
        // Both read and write the same results volume.
        Assert.Equal(S(At(shards, "spec", "template", "spec", "volumes", "0", "persistentVolumeClaim", "claimName")),
            S(At(merge, "spec", "template", "spec", "volumes", "0", "persistentVolumeClaim", "claimName")));
        Assert.Contains(docs, d => S(At(d, "kind")) == "PersistentVolumeClaim");
    }

    [Fact]
    public void The_verb_writes_both_files_deterministically_and_rejects_a_bad_count()
    {
        using var temp = TestTree.Temp();
        var first = TestTree.Run("matrix-ci", "--shards=2", $"--out={temp.Path}");
        Assert.Equal(0, first.ExitCode);
        var dir = temp.Combine("matrix", "ci");
        var bytes = Directory.GetFiles(dir).Order().Select(File.ReadAllBytes).ToList();
        Assert.Equal(2, bytes.Count);
        Assert.Equal(0, TestTree.Run("matrix-ci", "--shards=2", $"--out={temp.Path}").ExitCode);
        Assert.Equal(bytes, Directory.GetFiles(dir).Order().Select(File.ReadAllBytes).ToList());

        var bad = TestTree.Run("matrix-ci", "--shards=0", $"--out={temp.Path}");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--shards: must be a whole number from 1 to", bad.Stderr);
    }
}
