using KfuncForge.Upstream;
using YamlDotNet.RepresentationModel;

namespace KfuncForge.Tests.Upstream;

/// <summary>In-place YAML edits: values change where they stand, everything else stays byte for byte.</summary>
public sealed class YamlTextEditorTests
{
    [Fact]
    public void Replacing_a_scalar_keeps_its_trailing_comment_and_inserting_into_a_flow_mapping_stays_flow()
    {
        const string text = "a: 1   # one\nup: {release: \"6.1\", commit: abc}  # flow\nz: [x]\n";
        var editor = YamlTextEditor.Parse(text, "t.yaml");
        var root = (YamlMappingNode)editor.Root;
        var up = (YamlMappingNode)YamlTextEditor.Get(root, "up")!;

        Assert.True(editor.SetScalar(root, "a", "two words"));
        Assert.False(editor.SetScalar(up, "release", "6.1"));
        Assert.True(editor.SetScalar(up, "ref", "v6.17"));
        Assert.True(editor.SetList(root, "z", ["w", "x"], addWhenEmpty: false));

        Assert.Equal("a: two words   # one\nup: {release: \"6.1\", commit: abc, ref: v6.17}  # flow\nz: [w, x]\n", editor.Apply());
    }

    [Fact]
    public void A_list_with_the_same_members_in_another_order_is_left_alone()
    {
        const string text = "flags:\n  - B   # b\n  - A\n";
        var editor = YamlTextEditor.Parse(text, "t.yaml");

        Assert.False(editor.SetList((YamlMappingNode)editor.Root, "flags", ["A", "B"], addWhenEmpty: true));
        Assert.False(editor.HasEdits);
        Assert.Equal(text, editor.Apply());
    }

    [Theory]
    [InlineData("int bpf_strlen(const char *s__ign)", "int bpf_strlen(const char *s__ign)")]
    [InlineData("6.17", "\"6.17\"")]
    [InlineData("yes", "\"yes\"")]
    [InlineData("a: b", "\"a: b\"")]
    [InlineData("x # y", "\"x # y\"")]
    [InlineData("0123abc", "\"0123abc\"")]
    [InlineData("say \"hi\"", "\"say \\\"hi\\\"\"")]
    public void Scalars_are_plain_only_when_they_read_back_as_the_same_text(string value, string expected)
    {
        Assert.Equal(expected, YamlTextEditor.Scalar(value));
        var parsed = new YamlStream();
        parsed.Load(new StringReader($"k: {expected}\n"));
        Assert.Equal(value, ((YamlScalarNode)((YamlMappingNode)parsed.Documents[0].RootNode).Children[new YamlScalarNode("k")]).Value);
    }
}
