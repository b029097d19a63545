using KfuncForge.Diagnostics;
using KfuncForge.Matrix;
using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Matrix;

public sealed class CellStoreTests
{
    private static CellRecord Record(string key, string status, bool transient = false) => new()
    {
        Id = "d/k/m", Distro = "d", Kernel = "k", Module = "m", Key = key, Status = status, Kfuncs = [], Stages = new CellStages(),
        Transient = transient ? true : null,
    };

    private static string Commit(CellStore store, CellRecord record, string log)
    {
        var staging = store.Begin(record.Key);
        File.WriteAllText(Path.Combine(staging, "build.log"), log);
        return store.Commit(staging, record);
    }

    [Fact]
    public void A_committed_cell_is_whole_and_a_staging_folder_is_never_read()
    {
        using var temp = TestTree.Temp();
        var store = new CellStore(temp.Path);
        var key = new string('1', 64);
        var folder = Commit(store, Record(key, CellStatus.Pass), "first");
        store.Begin(new string('2', 64));   // a run killed while working on another cell
        var all = store.LoadAll();
        Assert.Equal([key], all.Keys);
        Assert.Equal("first", File.ReadAllText(Path.Combine(folder, "build.log")));
        Assert.Empty(Directory.GetFiles(temp.Path, "*.tmp-*", SearchOption.AllDirectories));
    }

    [Fact]
    public void A_transient_failure_is_replaced_by_the_next_result_and_a_judged_one_is_kept()
    {
        using var temp = TestTree.Temp();
        var store = new CellStore(temp.Path);
        var key = new string('3', 64);
        Commit(store, Record(key, CellStatus.Fail, transient: true), "download failed");
        Commit(store, Record(key, CellStatus.Pass), "built");
        Assert.Equal(CellStatus.Pass, store.LoadAll()[key].Status);
        Assert.Equal("built", File.ReadAllText(Path.Combine(store.Folder(key), "build.log")));
        Commit(store, Record(key, CellStatus.Fail), "another run");
        Assert.Equal("built", File.ReadAllText(Path.Combine(store.Folder(key), "build.log")));
        Assert.Single(Directory.GetDirectories(temp.Path));
    }

    [Fact]
    public void Every_damaged_entry_is_reported_together_and_left_in_place()
    {
        using var temp = TestTree.Temp();
        var store = new CellStore(temp.Path);
        var good = new string('4', 64);
        Commit(store, Record(good, CellStatus.Pass), "ok");
        var wrongKey = Path.Combine(temp.Path, new string('5', 64));
        Directory.CreateDirectory(wrongKey);
        File.WriteAllText(Path.Combine(wrongKey, CellStore.RecordFile), MatrixJson.Serialize(Record(good, CellStatus.Pass)));
        var empty = Path.Combine(temp.Path, new string('6', 64));
        Directory.CreateDirectory(empty);
        var stray = Path.Combine(temp.Path, "notes");
        Directory.CreateDirectory(stray);
        var e = Assert.Throws<InputException>(() => store.LoadAll());
        Assert.Equal(3, e.Problems.Count);
        Assert.Contains(e.Problems, p => p.File == Path.Combine(wrongKey, CellStore.RecordFile) && p.Message.Contains("not the folder's name"));
        Assert.Contains(e.Problems, p => p.File == Path.Combine(empty, CellStore.RecordFile) && p.Message.Contains($"delete the folder {empty}"));
        Assert.Contains(e.Problems, p => p.File == stray && p.Message.Contains("move it out of the store"));
        Assert.True(Directory.Exists(wrongKey) && Directory.Exists(empty) && Directory.Exists(stray));
    }
}
