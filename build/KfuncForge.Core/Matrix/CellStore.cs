using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using KfuncForge.Diagnostics;

namespace KfuncForge.Matrix;

/// <summary>
/// The key of a cell: SHA-256 over the digests of everything its result depends on (CellKey.Inputs):
/// the cell's identity, the engine build and the last stage, the distro profile and its kernel
/// packaging, the module's files, the templates, the kernel's packages (checksums from the live
/// index) and the toolchain (the build environment's package list, the host tools' versions).
/// Times and paths are not inputs.
/// </summary>
public static class CellKey
{
    public static string Of(IReadOnlyDictionary<string, string> inputs)
    {
        var text = new StringBuilder("kfuncforge-matrix-cell/1\n");
        foreach (var (name, digest) in inputs.OrderBy(i => i.Key, StringComparer.Ordinal)) text.Append(name).Append('=').Append(digest).Append('\n');
        return Digest(text.ToString());
    }

    public static string Digest(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <summary>A folder's files: relative path and content digest of each, in ordinal order (a missing folder digests as empty).</summary>
    public static string OfTree(string dir, Func<string, bool>? leaveOut = null)
    {
        var text = new StringBuilder();
        if (Directory.Exists(dir))
            foreach (var file in Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(dir, f).Replace('\\', '/'))
                         .Where(f => leaveOut is null || !leaveOut(f)).Order(StringComparer.Ordinal))
                text.Append(file).Append('\0').Append(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(dir, file))))).Append('\n');
        return Digest(text.ToString());
    }

    public static string OfFiles(IEnumerable<string> files) =>
        Digest(string.Concat(files.Select(f => $"{Path.GetFileName(f)}\0{(File.Exists(f) ? Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f))) : "missing")}\n")));
}

/// <summary>
/// Finished cells, one folder per key: &lt;store&gt;/&lt;key&gt;/record.json and the cell's logs and outputs.
/// A cell is worked on in a staging folder (.tmp-&lt;key&gt;-…) and renamed into place in one step once
/// record.json is written, so a folder named by a key is always complete; a killed run leaves only a
/// staging folder, which is never read and is swept after two hours.
/// </summary>
public sealed class CellStore
{
    public const string RecordFile = "record.json";
    public static readonly TimeSpan StaleStaging = TimeSpan.FromHours(2);

    public CellStore(string root)
    {
        Root = Path.GetFullPath(root);
    }

    public string Root { get; }

    public string Folder(string key) => Path.Combine(Root, key);

    /// <summary>Reads every finished cell; all unreadable ones are reported together (exit 2), nothing is deleted.</summary>
    public IReadOnlyDictionary<string, CellRecord> LoadAll()
    {
        var records = new Dictionary<string, CellRecord>(StringComparer.Ordinal);
        if (!Directory.Exists(Root)) return records;
        var problems = new List<Problem>();
        foreach (var dir in Directory.GetDirectories(Root).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(dir);
            if (name.StartsWith('.')) continue;
            var file = Path.Combine(dir, RecordFile);
            var fix = $"the cell store entry is damaged; delete the folder {dir} and run again (that cell reruns, every other cell is kept)";
            if (!IsKey(name))
            {
                problems.Add(new Problem(dir, 0, 0, "", $"is not a cell folder (names are 64-character keys); move it out of the store {Root}"));
                continue;
            }
            if (!File.Exists(file))
            {
                problems.Add(new Problem(file, 0, 0, "", $"is missing: {fix}"));
                continue;
            }
            try
            {
                var record = MatrixJson.Deserialize<CellRecord>(File.ReadAllText(file));
                if (record.Key != name)
                    problems.Add(new Problem(file, 0, 0, "key", $"is {record.Key}, not the folder's name: {fix}"));
                else
                    records[name] = record;
            }
            catch (JsonException e)
            {
                var line = (int)(e.LineNumber ?? -1) + 1;
                problems.Add(new Problem(file, line, (int)(e.BytePositionInLine ?? 0) + 1, e.Path ?? "", $"{e.Message.Split(" Path:")[0]}: {fix}"));
            }
            catch (IOException e)
            {
                problems.Add(new Problem(file, 0, 0, "", $"{e.Message}: {fix}"));
            }
        }
        if (problems.Count > 0) throw new InputException(problems);
        return records;
    }

    /// <summary>A new staging folder for a cell.</summary>
    public string Begin(string key)
    {
        Directory.CreateDirectory(Root);
        var staging = Path.Combine(Root, $".tmp-{key[..16]}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(staging);
        return staging;
    }

    /// <summary>
    /// Writes the record last and renames the staging folder to the key. A transient failure of an
    /// earlier run under the same key is replaced; a result another run committed first is kept.
    /// </summary>
    public string Commit(string staging, CellRecord record)
    {
        File.WriteAllText(Path.Combine(staging, RecordFile), MatrixJson.Serialize(record));
        var target = Folder(record.Key);
        var old = Path.Combine(target, RecordFile);
        string? replaced = null;
        if (File.Exists(old) && MatrixJson.Deserialize<CellRecord>(File.ReadAllText(old)).Transient == true)
        {
            replaced = Path.Combine(Root, $".tmp-replaced-{record.Key[..16]}-{Guid.NewGuid().ToString("N")[..8]}");
            Directory.Move(target, replaced);
        }
        try
        {
            Directory.Move(staging, target);
        }
        catch (IOException) when (File.Exists(Path.Combine(target, RecordFile)))
        {
            Directory.Delete(staging, recursive: true);
        }
        if (replaced is not null) Directory.Delete(replaced, recursive: true);
        return target;
    }

    /// <summary>Removes staging folders left by killed runs, once they are old enough not to belong to a run still going.</summary>
    public void SweepStaging()
    {
        if (!Directory.Exists(Root)) return;
        foreach (var dir in Directory.GetDirectories(Root, ".tmp-*"))
            try
            {
                if (DateTime.UtcNow - Directory.GetLastWriteTimeUtc(dir) > StaleStaging) Directory.Delete(dir, recursive: true);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
    }

    public static bool IsKey(string name) => name.Length == 64 && name.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f');
}
