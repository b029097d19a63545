using System.Text.RegularExpressions;
using KfuncForge.Diagnostics;
using KfuncForge.Model;
using Scriban;
using Scriban.Runtime;
using Scriban.Syntax;

namespace KfuncForge.Rendering;

/// <summary>Which families of distro a template applies to.</summary>
public enum TemplateScope { All, Deb, Rpm, Sysext }

/// <summary>One emitted file: the template under templates/ and the output path pattern ({module}, {package}).</summary>
public sealed record TemplateSpec(string Template, string Output, TemplateScope Scope, bool Executable = false)
{
    public bool AppliesTo(PackageFamily family) => Scope switch
    {
        TemplateScope.Deb => family == PackageFamily.Deb,
        TemplateScope.Rpm => family == PackageFamily.Rpm,
        TemplateScope.Sysext => family == PackageFamily.Sysext,
        _ => true,
    };
}

/// <summary>
/// Every template, parsed once when the set is loaded; a syntax error names the template and its
/// line. Rendering uses strict variables and strict member access, so a misspelt name fails with
/// the template, line and name instead of rendering as empty text.
/// </summary>
public sealed partial class TemplateSet
{
    /// <summary>The one list of emitted files. Every .sbn under templates/ must appear here (a test checks).</summary>
    public static readonly IReadOnlyList<TemplateSpec> Specs =
    [
        new("module/main.c.sbn", "{module}_main.c", TemplateScope.All),
        new("module/kfuncforge_compat.h.sbn", "kfuncforge_compat.h", TemplateScope.All),
        new("module/Kbuild.sbn", "Kbuild", TemplateScope.All),
        new("module/Makefile.sbn", "Makefile", TemplateScope.All),
        new("dkms/dkms.conf.sbn", "dkms.conf", TemplateScope.All),
        new("common/modules-load.conf.sbn", "modules-load.d/{module}.conf", TemplateScope.All),
        new("deb/control.sbn", "debian/control", TemplateScope.Deb),
        new("deb/rules.sbn", "debian/rules", TemplateScope.Deb, Executable: true),
        new("deb/changelog.sbn", "debian/changelog", TemplateScope.Deb),
        new("deb/postinst.sbn", "debian/{package}.postinst", TemplateScope.Deb, Executable: true),
        new("deb/postrm.sbn", "debian/{package}.postrm", TemplateScope.Deb, Executable: true),
        new("deb/source-format.sbn", "debian/source/format", TemplateScope.Deb),
        new("rpm/kmod.spec.sbn", "rpm/{package}.spec", TemplateScope.Rpm),
        new("fleet/deb-control.sbn", "fleet/debian/control", TemplateScope.Deb),
        new("fleet/deb-changelog.sbn", "fleet/debian/changelog", TemplateScope.Deb),
        new("fleet/deb-rules.sbn", "fleet/debian/rules", TemplateScope.Deb, Executable: true),
        new("fleet/kernel-postinst.sbn", "fleet/zz-kfuncforge-{module}", TemplateScope.Deb, Executable: true),
        new("fleet/kmod-meta.spec.sbn", "fleet/rpm/{meta}.spec", TemplateScope.Rpm),
        new("fleet/kernel-install.sbn", "fleet/90-kfuncforge-{module}.install", TemplateScope.Rpm, Executable: true),
        new("sysext/install.sbn", "sysext/install", TemplateScope.Sysext),
        new("sysext/extension-release.sbn", "sysext/extension-release", TemplateScope.Sysext),
        new("sysext/load.service.sbn", "sysext/{module}.service", TemplateScope.Sysext),
        new("sysext/upholds.conf.sbn", "sysext/upholds.conf", TemplateScope.Sysext),
    ];

    private readonly Dictionary<string, Template> _templates;
    public string Root { get; }

    private TemplateSet(string root, Dictionary<string, Template> templates)
    {
        Root = root;
        _templates = templates;
    }

    public static TemplateSet Load(string templatesDir)
    {
        var problems = new List<Problem>();
        var templates = new Dictionary<string, Template>(StringComparer.Ordinal);
        foreach (var spec in Specs)
        {
            var path = Path.Combine(templatesDir, spec.Template);
            var display = $"templates/{spec.Template}";
            if (!File.Exists(path))
            {
                problems.Add(new Problem(display, 0, 0, "", "template is missing; restore it from version control"));
                continue;
            }
            var template = Template.Parse(File.ReadAllText(path), display);
            if (template.HasErrors)
            {
                foreach (var m in template.Messages)
                    problems.Add(new Problem(display, m.Span.Start.Line + 1, m.Span.Start.Column + 1, "", $"template syntax: {m.Message}"));
                continue;
            }
            templates[spec.Template] = template;
        }
        if (problems.Count > 0) throw new InputException(problems);
        return new TemplateSet(templatesDir, templates);
    }

    /// <summary>Renders one template with the model as its only globals (and the per-format escapes). Values are data: they are never parsed as template code.</summary>
    public string Render(TemplateSpec spec, ScriptObject model)
    {
        var context = new TemplateContext
        {
            StrictVariables = true,
            EnableRelaxedMemberAccess = false,
            EnableRelaxedTargetAccess = false,
            EnableRelaxedIndexerAccess = false,
            MemberRenamer = StandardMemberRenamer.Default,
            NewLine = "\n",
            TemplateLoader = null,
        };
        context.PushGlobal(FormatEscapes.Functions());
        context.PushGlobal(model);
        try
        {
            return _templates[spec.Template].Render(context);
        }
        catch (ScriptRuntimeException e)
        {
            var display = $"templates/{spec.Template}";
            var message = Position().Replace(e.OriginalMessage ?? e.Message, "");
            throw new InputException(new Problem(display, e.Span.Start.Line + 1, e.Span.Start.Column + 1, "", $"template error: {message}"));
        }
    }

    [GeneratedRegex(@"^.*?\(\d+,\d+\)\s*:\s*error\s*:\s*")]
    private static partial Regex Position();
}
