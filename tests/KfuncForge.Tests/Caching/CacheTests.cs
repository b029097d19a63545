using System.Security.Cryptography;
using KfuncForge.Caching;
using KfuncForge.Diagnostics;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Caching;

public sealed class PackageStoreTests
{
    private static string Sha(byte[] b) => Convert.ToHexStringLower(SHA256.HashData(b));

    [Fact]
    public void A_verified_file_enters_the_store_under_its_hash()
    {
        using var dir = new TempDir();
        var cache = new CacheDirectory(dir.Combine("cache")).EnsureWritable();
        var store = new PackageStore(cache);
        var data = "package bytes"u8.ToArray();
        var file = dir.Combine("x.deb");
        File.WriteAllBytes(file, data);
        var stored = store.Add(file, Sha(data), data.Length, "x");
        Assert.Equal(store.PathOf(Sha(data)), stored);
        Assert.Equal(data, File.ReadAllBytes(stored));
        Assert.False(File.Exists(file));
    }

    [Fact]
    public void A_checksum_mismatch_is_rejected_and_leaves_nothing()
    {
        using var dir = new TempDir();
        var cache = new CacheDirectory(dir.Combine("cache")).EnsureWritable();
        var store = new PackageStore(cache);
        var file = dir.Write("x.deb", "tampered");
        var expected = Sha("original"u8.ToArray());
        var e = Assert.Throws<StageException>(() => store.Add(file, expected, null, "linux-image-x 1.0"));
        Assert.Contains("does not match the index", e.Message);
        Assert.Empty(Directory.GetFiles(cache.Packages));
        Assert.False(store.Contains(expected));
    }

    [Fact]
    public void An_interrupted_download_is_caught_by_its_size_and_leaves_nothing()
    {
        using var dir = new TempDir();
        var cache = new CacheDirectory(dir.Combine("cache")).EnsureWritable();
        var data = new byte[4096];
        Random.Shared.NextBytes(data);
        var file = dir.Combine("x.deb");
        File.WriteAllBytes(file, data[..1000]); // the first 1000 bytes only
        var e = Assert.Throws<StageException>(() => new PackageStore(cache).Add(file, Sha(data), data.Length, "x"));
        Assert.Contains("interrupted download", e.Message);
        Assert.Empty(Directory.GetFiles(cache.Packages));
    }

    [Fact]
    public async Task Concurrent_writers_of_the_same_package_leave_one_valid_entry()
    {
        using var dir = new TempDir();
        var cache = new CacheDirectory(dir.Combine("cache")).EnsureWritable();
        var data = new byte[1 << 20];
        Random.Shared.NextBytes(data);
        var source = dir.Combine("src.deb");
        File.WriteAllBytes(source, data);
        var sha = Sha(data);
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => new PackageStore(cache).AddCopy(source, sha, "x"))));
        Assert.Equal([Path.Combine(cache.Packages, sha + ".deb")], Directory.GetFiles(cache.Packages));
        Assert.Equal(sha, PackageStore.Sha256Of(Path.Combine(cache.Packages, sha + ".deb")));
    }
}

public sealed class FileLockTests
{
    [Fact]
    public void A_held_lock_cannot_be_taken_twice_and_is_free_after_release()
    {
        using var dir = new TempDir();
        var path = dir.Combine("locks", "k.lock");
        using (var first = FileLock.TryAcquire(path))
        {
            Assert.NotNull(first);
            Assert.Null(FileLock.TryAcquire(path));
        }
        using var again = FileLock.TryAcquire(path);
        Assert.NotNull(again);
    }

    [Fact]
    public async Task A_waiter_gets_the_lock_when_the_holder_releases_it()
    {
        using var dir = new TempDir();
        var path = dir.Combine("k.lock");
        var held = FileLock.TryAcquire(path)!;
        var messages = new List<string>();
        var waiter = Task.Run(() => FileLock.Acquire(path, TimeSpan.FromSeconds(20), "building the rootfs", m => { lock (messages) messages.Add(m); }));
        await Task.Delay(500);
        Assert.False(waiter.IsCompleted);
        held.Dispose();
        using var got = await waiter;
        Assert.Contains(messages, m => m.Contains("waiting for another kfuncforge run that is building the rootfs"));
    }

    [Fact]
    public void A_waiter_gives_up_with_a_clear_message()
    {
        using var dir = new TempDir();
        var path = dir.Combine("k.lock");
        using var held = FileLock.TryAcquire(path)!;
        var e = Assert.Throws<StageException>(() => FileLock.Acquire(path, TimeSpan.FromMilliseconds(300), "fetching 6.1.0-56-amd64"));
        Assert.Contains("fetching 6.1.0-56-amd64", e.Message);
    }

    [Fact]
    public async Task A_lock_held_by_another_process_blocks_us_until_it_exits()
    {
        using var dir = new TempDir();
        var path = dir.Combine("k.lock");
        File.WriteAllText(path, "");
        // flock(1) holds the same kind of lock .NET takes (FileShare.None → flock LOCK_EX) for 2 s.
        var other = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("flock", ["--exclusive", path, "sleep", "2"]))!;
        await Task.Delay(700);
        Assert.Null(FileLock.TryAcquire(path));
        await other.WaitForExitAsync();
        using var ours = FileLock.Acquire(path, TimeSpan.FromSeconds(10), "x");
        Assert.NotNull(ours);
    }
}

public sealed class CacheDirectoryTests
{
    [Fact]
    public void Publishing_is_all_or_nothing_and_the_loser_of_a_race_is_dropped()
    {
        using var dir = new TempDir();
        var a = CacheDirectory.NewStaging(dir.Path, "entry");
        var b = CacheDirectory.NewStaging(dir.Path, "entry");
        File.WriteAllText(Path.Combine(a, "facts.json"), "a");
        File.WriteAllText(Path.Combine(b, "facts.json"), "b");
        var final = dir.Combine("entry");
        Assert.True(CacheDirectory.Publish(a, final));
        Assert.False(CacheDirectory.Publish(b, final));
        Assert.Equal("a", File.ReadAllText(Path.Combine(final, "facts.json")));
        Assert.False(Directory.Exists(b));
    }

    [Fact]
    public void Sweeping_removes_old_staging_folders_only()
    {
        using var dir = new TempDir();
        var old = CacheDirectory.NewStaging(dir.Path, "old");
        Directory.SetLastWriteTimeUtc(old, DateTime.UtcNow.AddDays(-1));
        var fresh = CacheDirectory.NewStaging(dir.Path, "fresh");
        var entry = dir.Dir("6.1.0-56-amd64");
        CacheDirectory.SweepStaging(dir.Path, TimeSpan.FromHours(2));
        Assert.False(Directory.Exists(old));
        Assert.True(Directory.Exists(fresh));
        Assert.True(Directory.Exists(entry));
    }

    [Fact]
    public void Staging_left_by_a_dead_run_is_swept_at_once()
    {
        using var dir = new TempDir();
        var dead = dir.Dir(".tmp-6.1.0-56-amd64-999999999-0123456789abcdef0123456789abcdef");
        var ours = CacheDirectory.NewStaging(dir.Path, "6.12.117+deb12-amd64");
        CacheDirectory.SweepStaging(dir.Path, TimeSpan.FromHours(2));
        Assert.False(Directory.Exists(dead));
        Assert.True(Directory.Exists(ours));
    }

    [Fact]
    public void The_default_root_follows_XDG_CACHE_HOME()
    {
        var before = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        try
        {
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", "/var/tmp/xdg");
            Assert.Equal("/var/tmp/xdg/kfuncforge", CacheDirectory.DefaultRoot());
        }
        finally
        {
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", before);
        }
    }

    [Fact]
    public void A_cache_path_that_cannot_be_a_folder_is_a_clear_error()
    {
        using var dir = new TempDir();
        var file = dir.Write("plain-file", "x");
        var e = Assert.Throws<StageException>(() => new CacheDirectory(Path.Combine(file, "cache")).EnsureWritable());
        Assert.Contains("--cache", e.Message);
    }
}

/// <summary>
/// Storage faults on a real small file system: a 256 KiB tmpfs (disk full) and a read-only tmpfs
/// (unwritable). Mounting needs root; CI runs as root. Elsewhere these skip.
/// </summary>
public sealed class CacheStorageFaultTests
{
    internal static bool IsRoot => Environment.UserName == "root" || Environment.GetEnvironmentVariable("USER") == "root";

    internal static void Mount(string target, string options)
    {
        var r = KfuncForge.Processes.ProcessRunner.Instance.RunAsync(new KfuncForge.Processes.ProcessSpec("mount", ["-t", "tmpfs", "-o", options, "tmpfs", target])).GetAwaiter().GetResult();
        if (!r.Succeeded) throw new InvalidOperationException("mount failed: " + r.Stderr);
    }

    internal static void Unmount(string target) =>
        KfuncForge.Processes.ProcessRunner.Instance.RunAsync(new KfuncForge.Processes.ProcessSpec("umount", [target])).GetAwaiter().GetResult();

    [RootFact]
    public void Disk_full_is_a_clear_error_and_the_cache_stays_intact()
    {
        using var dir = new TempDir();
        var mount = dir.Dir("small");
        Mount(mount, "size=256k");
        try
        {
            var cache = new CacheDirectory(Path.Combine(mount, "cache")).EnsureWritable();
            var store = new PackageStore(cache);
            var small = "small package"u8.ToArray();
            var smallFile = dir.Combine("small.deb");
            File.WriteAllBytes(smallFile, small);
            var kept = store.AddCopy(smallFile, Convert.ToHexStringLower(SHA256.HashData(small)), "small");

            var big = new byte[1 << 20];
            Random.Shared.NextBytes(big);
            var bigFile = dir.Combine("big.deb");
            File.WriteAllBytes(bigFile, big);
            var e = Assert.Throws<StageException>(() => store.AddCopy(bigFile, Convert.ToHexStringLower(SHA256.HashData(big)), "linux-image-big"));
            Assert.Contains("no space left", e.Message);
            Assert.Contains("intact", e.Message);
            Assert.Equal([kept], Directory.GetFiles(cache.Packages)); // no partial file, the old entry still there
            Assert.Equal(small, File.ReadAllBytes(kept));
        }
        finally
        {
            Unmount(mount);
        }
    }

    [RootFact]
    public void An_unwritable_cache_is_a_clear_error()
    {
        using var dir = new TempDir();
        var mount = dir.Dir("ro");
        Mount(mount, "ro,size=64k");
        try
        {
            var e = Assert.Throws<StageException>(() => new CacheDirectory(Path.Combine(mount, "cache")).EnsureWritable());
            Assert.Contains("not writable", e.Message);
            Assert.Contains("--cache", e.Message);
        }
        finally
        {
            Unmount(mount);
        }
    }

    public sealed class RootFactAttribute : FactAttribute
    {
        public RootFactAttribute()
        {
            if (!IsRoot) Skip = "mounting a small tmpfs needs root (CI runs as root)";
        }
    }
}
