using KfuncForge.Processes;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Processes;

public sealed class ProcessRunnerTests
{
    private static readonly ProcessRunner Runner = ProcessRunner.Instance;

    // A child that asks to die with its parent (bwrap --die-with-parent sets PR_SET_PDEATHSIG) is tied
    // to the thread that forked it, not the process. The thread pool retires idle threads, so a sandboxed
    // build started from a pool thread was SIGKILLed mid-run (exit 137). Here the starting thread ends at
    // once; the child must still run to its end.
    [Fact]
    public async Task A_child_tied_to_its_parent_outlives_the_thread_that_asked_for_it()
    {
        Task<ProcessResult>? running = null;
        var starter = new Thread(() => running = Runner.RunAsync(new ProcessSpec("setpriv", ["--pdeathsig", "KILL", "--", "sleep", "1"])));
        starter.Start();
        starter.Join();
        var r = await running!;
        Assert.Equal(0, r.ExitCode);
    }

    [Fact]
    public async Task Captures_stdout_and_exit_code_of_an_argv_list()
    {
        var r = await Runner.RunAsync(new ProcessSpec("printf", ["%s|%s", "a b", "$HOME"]));
        Assert.True(r.Succeeded);
        Assert.Equal("a b|$HOME", r.Stdout); // no shell: nothing is split or expanded
    }

    [Fact]
    public async Task A_failure_keeps_stderr_and_exit_code_in_the_exception()
    {
        var r = await Runner.RunAsync(new ProcessSpec("ls", ["/kfuncforge-does-not-exist"]));
        Assert.False(r.Succeeded);
        Assert.Equal(2, r.ExitCode);
        var e = Assert.Throws<ProcessFailedException>(() => r.EnsureSuccess());
        Assert.Equal(2, e.Result.ExitCode);
        Assert.Contains("kfuncforge-does-not-exist", e.Message);
        Assert.Contains("exited with code 2", e.Message);
    }

    [Fact]
    public async Task A_missing_program_is_exit_127_with_a_message()
    {
        var r = await Runner.RunAsync(new ProcessSpec("kfuncforge-no-such-tool", []));
        Assert.Equal(127, r.ExitCode);
        Assert.Contains("cannot start kfuncforge-no-such-tool", r.Stderr);
    }

    [Fact]
    public async Task A_timeout_kills_the_process_and_says_so()
    {
        var r = await Runner.RunAsync(new ProcessSpec("sleep", ["30"]) { Timeout = TimeSpan.FromMilliseconds(300) });
        Assert.True(r.TimedOut);
        Assert.False(r.Succeeded);
        Assert.True(r.Duration < TimeSpan.FromSeconds(10));
        Assert.Contains("timed out", new ProcessFailedException(r).Message);
    }

    [Fact]
    public async Task Working_directory_and_environment_reach_the_child()
    {
        using var dir = new TempDir();
        var r = await Runner.RunAsync(new ProcessSpec("env", []) { WorkingDirectory = dir.Path, Environment = new Dictionary<string, string?> { ["KFUNCFORGE_T"] = "x y" } });
        Assert.Contains("KFUNCFORGE_T=x y", r.Stdout);
        var pwd = await Runner.RunAsync(new ProcessSpec("pwd", []) { WorkingDirectory = dir.Path });
        Assert.Equal(dir.Path, pwd.Stdout.Trim());
    }

    [Fact]
    public async Task Stdin_from_a_file_offset_and_stdout_to_a_file()
    {
        using var dir = new TempDir();
        var input = dir.Write("in.bin", "0123456789");
        var output = dir.Combine("out.bin");
        var r = await Runner.RunAsync(new ProcessSpec("cat", []) { StdinFile = input, StdinOffset = 4, StdoutFile = output });
        Assert.True(r.Succeeded);
        Assert.Equal("456789", File.ReadAllText(output));
    }

    [Fact]
    public void The_logged_command_is_quoted_and_redacts_secrets()
    {
        var spec = new ProcessSpec("sign-file", ["sha256", "key with space.pem", "--pass=hunter2"])
        {
            Secrets = ["hunter2"],
            Environment = new Dictionary<string, string?> { ["KBUILD_SIGN_PIN"] = "1234", ["SIGNING_PRIVATE_KEY"] = "k", ["ARCH"] = "x86" },
        };
        Assert.Equal("ARCH=x86 KBUILD_SIGN_PIN=1234 SIGNING_PRIVATE_KEY=*** sign-file sha256 'key with space.pem' '--pass=***'", spec.Display);
        Assert.DoesNotContain("hunter2", spec.Display);
    }

    [Fact]
    public void Quoting_escapes_single_quotes()
    {
        Assert.Equal("'it'\\''s'", CommandLine.Quote("it's"));
        Assert.Equal("''", CommandLine.Quote(""));
        Assert.Equal("M=/tmp/x", CommandLine.Quote("M=/tmp/x"));
    }
}
