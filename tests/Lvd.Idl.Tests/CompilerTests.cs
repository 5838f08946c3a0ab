namespace Lvd.Idl.Tests;

/// <summary>The shipped interfaces, the layout decisions, byte stability and the command line.</summary>
public sealed class CompilerTests
{
    public static TheoryData<string> ShippedInterfaces => new()
    {
        "idl/net_device.idl",
        "idl/blk_mq.idl",
        "idl/examples/devices.idl",
        "idl/examples/data.idl",
        "idl/examples/ksplit_bench.idl",
    };

    private static IdlResult CompileShipped(string relative)
    {
        var path = Repo.Path(relative.Split('/'));
        var result = IdlCompiler.Compile(Path.GetFileName(path), File.ReadAllText(path));
        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics.Select(d => d.Format())));
        return result;
    }

    [Theory]
    [MemberData(nameof(ShippedInterfaces))]
    public void ShippedInterfaceGeneratesCThatGccBuildsWithoutWarnings(string relative)
    {
        var result = CompileShipped(relative);
        var dir = Directory.CreateTempSubdirectory("lvd-idl-").FullName;
        foreach (var (name, text) in result.GeneratedFiles)
            File.WriteAllText(Path.Combine(dir, name), text);
        var sources = result.GeneratedFiles.Keys.Where(k => k.EndsWith(".c", StringComparison.Ordinal)).Select(k => Path.Combine(dir, k));
        foreach (var source in sources)
            Gcc.Compile([source], [Repo.Path("guest", "glue"), dir], source + ".o", link: false);
    }

    [Theory]
    [InlineData("idl/net_device.idl")]
    [InlineData("idl/blk_mq.idl")]
    public void DriverGlueAndRuntimeBuildFreestandingAgainstTheGuestLibc(string relative)
    {
        var result = CompileShipped(relative);
        var dir = Directory.CreateTempSubdirectory("lvd-idl-").FullName;
        foreach (var (name, text) in result.GeneratedFiles)
            File.WriteAllText(Path.Combine(dir, name), text);
        var sources = result.GeneratedFiles.Keys.Where(k => k.EndsWith(".c", StringComparison.Ordinal)).Select(k => Path.Combine(dir, k))
            .Concat(Directory.GetFiles(Repo.Path("guest", "glue"), "*.c"));
        foreach (var source in sources)
            Gcc.CompileForGuest(source, [Repo.Path("guest", "glue"), dir], Path.Combine(dir, Path.GetFileName(source) + ".o"));
    }

    [Theory]
    [MemberData(nameof(ShippedInterfaces))]
    public void OutputIsByteStable(string relative)
    {
        var first = CompileShipped(relative).GeneratedFiles;
        var second = CompileShipped(relative).GeneratedFiles;

        Assert.Equal(3, first.Count);
        foreach (var (name, text) in first)
        {
            Assert.Equal(text, second[name]);
            Assert.DoesNotContain('\r', text);
            Assert.EndsWith("\n", text, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// No double fetch: between the start of a handler and its reply (or between a stub's
    /// transport call and its return), each message word and each register-page offset is
    /// read at most once, so the other side cannot change a value after it was checked.
    /// </summary>
    [Theory]
    [MemberData(nameof(ShippedInterfaces))]
    public void ReceiversReadEveryWordAndPageOffsetOnce(string relative)
    {
        var files = CompileShipped(relative).GeneratedFiles.Where(f => f.Key.EndsWith(".c", StringComparison.Ordinal));
        var receiving = 0;
        foreach (var (name, text) in files)
        {
            foreach (var function in text.Split("\n}\n"))
            {
                var start = function.Contains("_handler(struct lvd_chan *ch",
                    StringComparison.Ordinal) ? 0 : function.IndexOf("rc = ch->transport(m);", StringComparison.Ordinal);
                if (start < 0)
                    continue;
                var end = function.IndexOf("lvd_msg_clear_reply(m);", start, StringComparison.Ordinal);
                var body = OneArmPerSwitch(function[start..(end < 0 ? function.Length : end)]);
                var reads = System.Text.RegularExpressions.Regex.Matches(body, @"\(\w+\)m->w\[\d\]|m->w\[\d\], |lvd_rp_get_\w+\(rp, [^,]+")
                    .Select(mt => mt.Value.Contains("m->w",
                        StringComparison.Ordinal) ? mt.Value[mt.Value.IndexOf('m')..(mt.Value.IndexOf(']') + 1)] : mt.Value[mt.Value.IndexOf(',')..])
                    .ToList();
                receiving++;
                var twice = reads.GroupBy(r => r).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
                Assert.True(twice.Count == 0, $"{name}: read more than once: {string.Join(", ", twice)}\n{body}");
            }
        }
        Assert.True(receiving > 0);
    }

    /// <summary>The arms of a union switch are alternatives: only one of their reads runs.</summary>
    private static string OneArmPerSwitch(string body)
    {
        var kept = new List<string>();
        var casesSeen = 0;
        var skipNext = false;
        foreach (var line in body.Split('\n'))
        {
            if (line.TrimStart().StartsWith("switch (", StringComparison.Ordinal))
                casesSeen = 0;
            if (skipNext)
            {
                skipNext = false;
                continue;
            }
            if (line.TrimStart().StartsWith("case ", StringComparison.Ordinal) && casesSeen++ > 0)
                skipNext = true;
            kept.Add(line);
        }
        return string.Join('\n', kept);
    }

    private static string LayoutOf(string source, string rpc)
    {
        var result = IdlCompiler.Compile("t.idl", source);
        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics.Select(d => d.Format())));
        var lines = result.GeneratedFiles["t_kernel.c"].Split('\n');
        var start = Array.FindIndex(lines, l => l.StartsWith($" * {rpc}:", StringComparison.Ordinal));
        return string.Join("\n", lines[start..(start + 4)]);
    }

    [Fact]
    public void ScalarsFillTheSevenWordsThenSpillToTheRegisterPageWithNaturalAlignment()
    {
        var layout = LayoutOf("""
            interface t;
            domain rpc u16 spill(in u8 a, in u8 b, in u8 c, in u8 d, in u8 e, in u8 f, in u8 g, in u8 h, in u32 k, out u64 j);
            """, "spill");

        Assert.Equal("""
             * spill: kernel -> domain, function 1
             *   request: w0 function id | target, w1 a, w2 b, w3 c, w4 d, w5 e, w6 f, w7 g, regpage+0 h, regpage+4 k
             *   reply:   w0 status, w1 *j, w2 *ret
             *   register page: 8 bytes in, 0 bytes out
            """, layout);
    }

    [Fact]
    public void KsplitBenchmarkCasesAreLaidOutAsExpected()
    {
        var text = CompileShipped("idl/examples/ksplit_bench.idl").GeneratedFiles["bench_kernel.c"];

        Assert.Contains(" *   request: w0 function id | target\n", text, StringComparison.Ordinal);
        Assert.Contains(" *   request: w0 function id | target, w1 x\n", text, StringComparison.Ordinal);
        Assert.Contains(" *   request: w0 function id | target, regpage+0 vals[256 bytes]\n", text, StringComparison.Ordinal);
        Assert.Contains(" *   request: w0 function id | target, w1 strlen(s), regpage+0 s[<=256]\n", text, StringComparison.Ordinal);
        Assert.Contains(" *   request: w0 function id | target, w1 pool offset of buf, w2 buf_len\n", text, StringComparison.Ordinal);
        Assert.Contains(" *   request: w0 function id | target, w1 body->kind, regpage+0 body->body[32 bytes]\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void TheRegisterPageIsFilledToTheByteAndNoFurther()
    {
        var fits = IdlCompiler.Compile("t.idl", "interface t;\ndomain rpc void f(in u8 a[4096]);\n");
        var over = IdlCompiler.Compile("t.idl", "interface t;\ndomain rpc void f(in u8 a[4096], in u8 b[1]);\n");

        Assert.True(fits.Succeeded);
        Assert.Equal("t.idl:2:17: error: rpc 'f' needs 4097 bytes of the register page, which holds 4096: pass bulk data as a 'buffer' in the " +
            "shared pool",
            over.Diagnostics.Single().Format().Split('\n')[0]);
        Assert.Empty(over.GeneratedFiles);
    }

    [Fact]
    public void CallScopedObjectsUseAChannelSlotAndAReusedShadowNotTheTable()
    {
        var files = IdlCompiler.Compile("s.idl", """
            interface s;
            struct pkt { u32 len; u32 seq; }
            projection lend : pkt { in len; out seq; }
            projection back : pkt { }
            domain rpc s32 xmit(lend *pk [call], in u32 n);
            kernel rpc void touch(back *pk [call(use)]);
            kernel rpc void done(back *pk [call(end)]);
            """).GeneratedFiles;
        static string Function(string file, string head) => file[file.IndexOf(head, StringComparison.Ordinal)..][..file[file.IndexOf(head,
            StringComparison.Ordinal)..].IndexOf("\n}\n", StringComparison.Ordinal)];
        var kernel = files["s_kernel.c"];
        var domain = files["s_domain.c"];

        // The caller opens a slot just before crossing and closes it as soon as the crossing is back.
        var stub = Function(kernel, "s_call_xmit(");
        Assert.Contains("uint64_t v_pk = lvd_scope_open(ch, pk, LVD_TAG_PKT);", stub, StringComparison.Ordinal);
        Assert.True(stub.IndexOf("lvd_scope_open", StringComparison.Ordinal) > stub.IndexOf("m->w[3] = (uint64_t)n;", StringComparison.Ordinal));
        Assert.Contains("rc = ch->transport(m);\n\tlvd_scope_close(ch, v_pk, LVD_TAG_PKT);\n", stub, StringComparison.Ordinal);
        // The callee checks the name's form, takes the slot's shadow in the commit step, leaves it after the call.
        var handler = Function(domain, "xmit_handler(");
        Assert.Contains("if (!lvd_scope_name_ok(v_pk))\n\t\treturn -LVD_EBADREF;", handler, StringComparison.Ordinal);
        Assert.True(handler.IndexOf("lvd_scope_enter(ch, v_pk, LVD_TAG_PKT, sizeof(*pk))", StringComparison.Ordinal) > handler.IndexOf("// Commit.",
            StringComparison.Ordinal));
        Assert.Contains("lvd_scope_leave(ch, v_pk, LVD_TAG_PKT);", handler, StringComparison.Ordinal);
        // Nested calls name it by the slot: the kernel checks slot, type and generation; end kills the name on both sides.
        Assert.Contains("struct lvd_scope *c_pk = lvd_scope_lookup(ch, v_pk, LVD_TAG_PKT);\n\tif (c_pk == NULL)\n\t\treturn -LVD_EBADREF;",
            Function(kernel, "touch_handler("), StringComparison.Ordinal);
        Assert.DoesNotContain("lvd_scope_close", Function(kernel, "touch_handler("), StringComparison.Ordinal);
        Assert.Contains("lvd_scope_close(ch, v_pk, LVD_TAG_PKT);", Function(kernel, "done_handler("), StringComparison.Ordinal);
        Assert.Contains("lvd_scope_close_slot(c_pk);", Function(domain, "s_call_done("), StringComparison.Ordinal);
        Assert.Contains("if (c_pk == NULL)\n\t\treturn -LVD_ENOREF;", Function(domain, "s_call_touch("), StringComparison.Ordinal);
        // No capability table, no per-call shadow.
        foreach (var file in new[] { kernel, domain })
            foreach (var table in new[] { "lvd_cap_insert", "lvd_cap_find", "lvd_cap_remove", "lvd_shadow_alloc", "lvd_shadow_free" })
                Assert.DoesNotContain(table, file, StringComparison.Ordinal);
    }

    [Fact]
    public void TypeTagsAreTheSameForAStructSharedByTwoInterfaces()
    {
        const string body = "\nstruct device { u32 id; }\nprojection p : device { in id; }\ndomain rpc void f(p *d [bind]);\n";
        var a = IdlCompiler.Compile("a.idl", "interface a;" + body).GeneratedFiles["a_glue.h"];
        var b = IdlCompiler.Compile("b.idl", "interface b;" + body).GeneratedFiles["b_glue.h"];

        static string Tag(string header) => header.Split('\n').Single(l => l.StartsWith("#define LVD_TAG_DEVICE ", StringComparison.Ordinal));
        Assert.Equal(Tag(a), Tag(b));
    }

    [Fact]
    public void CommandLineWritesTheGlueAndReportsDiagnosticsAndUsage()
    {
        var dir = Directory.CreateTempSubdirectory("lvd-idl-").FullName;
        var good = Path.Combine(dir, "good.idl");
        var bad = Path.Combine(dir, "bad.idl");
        File.WriteAllText(good, "interface good;\ndomain rpc void ping();\n");
        File.WriteAllText(bad, "interface bad;\ndomain rpc void ping()\n");

        var (code, stdout, stderr) = Run(good, "-o", Path.Combine(dir, "out"));
        Assert.Equal((0, ""), (code, stderr));
        Assert.Equal(["good_domain.c", "good_glue.h", "good_kernel.c"], Directory.GetFiles(Path.Combine(dir,
            "out")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(3, stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

        (code, stdout, stderr) = Run(bad, "-o", Path.Combine(dir, "badout"));
        Assert.Equal(1, code);
        Assert.StartsWith($"{bad}:3:1: error: expected ';' after the rpc, found end of file\n", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(dir, "badout")));

        Assert.Equal(2, Run().Code);
        Assert.Equal(2, Run(good, "-o").Code);
        Assert.Equal(2, Run(good, "--frobnicate").Code);
        Assert.Equal(2, Run(good, good).Code);

        (code, _, stderr) = Run(Path.Combine(dir, "missing.idl"));
        Assert.Equal(2, code); // a missing input is a usage error, like every other bad argument
        Assert.EndsWith("missing.idl: no such file", stderr.Trim(), StringComparison.Ordinal);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    private static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        var code = IdlCommandLine.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
