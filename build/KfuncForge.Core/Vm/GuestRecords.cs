using System.Text.Json;
using System.Text.Json.Serialization;

namespace KfuncForge.Vm;

/// <summary>
/// One record from the agent's records port (schema in docs/smoke.md). Every record carries the
/// protocol version, its type and the boot id from the manifest.
/// </summary>
public abstract record GuestRecord
{
    public int V { get; init; }
    public string Type { get; init; } = "";
    public string Boot { get; init; } = "";
}

/// <summary>The agent started: kernel release and the guest's time since the kernel started (the boot's cost).</summary>
public sealed record HelloRecord : GuestRecord
{
    public string Kernel { get; init; } = "";
    public long BoottimeNs { get; init; }
    public string? Libbpf { get; init; }

    /// <summary>The kernel's hung-task timeout, lockup threshold and soft-lockup switch as the guest saw them (-1: not in this kernel).</summary>
    public long? HungTaskTimeoutSecs { get; init; }
    public long? WatchdogThresh { get; init; }
    public long? SoftWatchdog { get; init; }
}

/// <summary>A step is about to start (so a step that never ends is known by name).</summary>
public sealed record BeginRecord : GuestRecord
{
    public string Step { get; init; } = "";
    public string Module { get; init; } = "";
    public string Name { get; init; } = "";
}

public sealed record ModuleRecord : GuestRecord
{
    public string Module { get; init; } = "";
    public string Kind { get; init; } = "";
    public bool Ok { get; init; }
    public int Errno { get; init; }
    public string Error { get; init; } = "";
    public long Ns { get; init; }
    public bool Btf { get; init; }
    public IReadOnlyList<string> KfuncsInBtf { get; init; } = [];
    public IReadOnlyList<string> KernelLog { get; init; } = [];
}

/// <summary>Fields shared by smoke and load records: the program's load and its run.</summary>
public abstract record ProgramRecord : GuestRecord
{
    public string Module { get; init; } = "";
    public string Name { get; init; } = "";
    public string? Section { get; init; }
    public string? ProgType { get; init; }
    public bool Loaded { get; init; }
    public int Errno { get; init; }
    public string Error { get; init; } = "";
    public string? VerifierLog { get; init; }
    public string? LoaderLog { get; init; }
    public bool Ran { get; init; }
    public int RunErrno { get; init; }
    public string? RunError { get; init; }
    public ulong? Retval { get; init; }
    public long Ns { get; init; }

    // Socket workloads (iter/tcp, iter/udp programs).
    public string? Proto { get; init; }
    public long Sockets { get; init; }
    public long Opened { get; init; }
    public long Aborted { get; init; }
    public long StillOpen { get; init; }
    public long OtherErrors { get; init; }
    public int FirstErrno { get; init; }
    public int SetupErrno { get; init; }
    public long LocalAborted { get; init; }
    public long PeersAborted { get; init; }
    public long PeersReset { get; init; }

    /// <summary>Whether the agent found the program's target_port global and set it (socket workloads).</summary>
    public bool? PortSet { get; init; }

    /// <summary>The object's scalar .bss/.data globals after the run (the program's own counters).</summary>
    public IReadOnlyDictionary<string, long>? Globals { get; init; }
    public long SetupNs { get; init; }

    /// <summary>Sockets of the iterator's protocol in use before the set-up and after everything was closed (a leak: after &gt; before).</summary>
    public long? InuseBefore { get; init; }
    public long? InuseAfter { get; init; }

    /// <summary>The same count with every socket of the run open (at least the sockets opened, else the counter proves nothing).</summary>
    public long? InuseOpen { get; init; }

    /// <summary>The socket scenario an iterator smoke case ran ("ipv6/listening"); null: the default, ipv4/established.</summary>
    public string? Scenario { get; init; }
    public long IterNs { get; init; }
    public long CompleteNs { get; init; }
}

public sealed record SmokeRecord : ProgramRecord
{
    public string? Program { get; init; }
    public long LoadNs { get; init; }

    /// <summary>How many smoke programs shared this program's load (one object load for several programs); null when loaded alone.</summary>
    public int? Batch { get; init; }
}

public sealed record LoadRecord : ProgramRecord
{
    public string Driver { get; init; } = "";
    public long Repeat { get; init; }
    public long? KernelNsPerCall { get; init; }
    public long WallNs { get; init; }
    public string? Detail { get; init; }
}

/// <summary>A program of the image the agent ran (manifest "run"), or a file it wrote ("write"): exit code, output and kernel log.</summary>
public sealed record CommandRecord : GuestRecord
{
    public string Name { get; init; } = "";
    public IReadOnlyList<string> Argv { get; init; } = [];
    public int? Code { get; init; }
    public int? Signal { get; init; }
    public int Errno { get; init; }
    public string Error { get; init; } = "";
    public string Output { get; init; } = "";
    public long Ns { get; init; }
    public IReadOnlyList<string> KernelLog { get; init; } = [];

    public bool Succeeded => Code == 0 && Errno == 0;
}

/// <summary>The worker finished every step: its total time and the kernel's taint mask.</summary>
public sealed record DoneRecord : GuestRecord
{
    public long Ns { get; init; }
    public long Tainted { get; init; }
}

/// <summary>PID 1's report of how the worker ended: an exit code, or the signal that killed it.</summary>
public sealed record ExitRecord : GuestRecord
{
    public int? Code { get; init; }
    public int? Signal { get; init; }
    public string? SignalName { get; init; }
    public int? Errno { get; init; }
}

public sealed record ErrorRecord : GuestRecord
{
    public string Detail { get; init; } = "";
    public string? Command { get; init; }
}

/// <summary>A line that was not a valid record (cut short by a kill, or garbled).</summary>
public sealed record BadRecord : GuestRecord
{
    public string Text { get; init; } = "";
    public string Problem { get; init; } = "";
}

public static class GuestRecords
{
    public const int ProtocolVersion = 1;

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.Strict,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    };

    /// <summary>Parses one line of the records port.</summary>
    public static GuestRecord Parse(string line)
    {
        var text = line.Trim().TrimStart('\0');
        try
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("type", out var t) || t.ValueKind != JsonValueKind.String)
                return new BadRecord { Text = text, Problem = "not a JSON object with a string 'type'" };
            if (!doc.RootElement.TryGetProperty("v", out var v) || v.ValueKind != JsonValueKind.Number || v.GetInt32() != ProtocolVersion)
                return new BadRecord { Text = text, Problem = $"protocol version is not {ProtocolVersion}" };
            Type? target = t.GetString() switch
            {
                "hello" => typeof(HelloRecord),
                "begin" => typeof(BeginRecord),
                "module" => typeof(ModuleRecord),
                "smoke" => typeof(SmokeRecord),
                "load" => typeof(LoadRecord),
                "done" => typeof(DoneRecord),
                "command" => typeof(CommandRecord),
                "exit" => typeof(ExitRecord),
                "error" => typeof(ErrorRecord),
                _ => null,
            };
            if (target is null) return new BadRecord { Text = text, Problem = $"unknown record type '{t.GetString()}'" };
            return (GuestRecord)doc.RootElement.Deserialize(target, Options)!;
        }
        catch (JsonException e)
        {
            return new BadRecord { Text = text, Problem = "not valid JSON: " + e.Message };
        }
    }
}
