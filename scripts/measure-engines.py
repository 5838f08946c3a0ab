#!/usr/bin/env python3
# measure-engines.py BUILD_DIR ROUNDS PROG.elf... [nullnet]: fresh `lvd exec PROG` (or `lvd boot --workload nullnet`)
# processes under each engine, alternating within a round; medians of the process CPU seconds (wait4: start-up, compiles
# and the run) and of the run's host seconds (--stats-json). docs/HOST-SPEED.md, Compiled regions. Needs LVD_ROOT.
# BUILD_DIR: a published CLI (./lvd's build/cli).
import os, sys, json, statistics, tempfile
build, rounds, progs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
# ENGINES="main:/path/to/other/build interp jit": several builds side by side (a build without --engine as "main").
engines = os.environ.get("ENGINES", "interp jit").split()
res = {}
for r in range(rounds):
    for p in progs:
        for e in engines:
            stats = os.path.join(tempfile.gettempdir(), f"lvd-measure-{os.getpid()}.json")
            pid = os.fork()
            if pid == 0:
                fd = os.open("/dev/null", os.O_WRONLY); os.dup2(fd, 1)
                cmd = ["boot", "--workload", "nullnet"] if p == "nullnet" else ["exec", p]
                if e.startswith("main:"):
                    os.execvp("dotnet", ["dotnet", f"{e[5:]}/lvd.dll", *cmd, "--stats-json", stats])
                os.execvp("dotnet", ["dotnet", f"{build}/lvd.dll", *cmd, "--engine", e, "--stats-json", stats])
            _, status, ru = os.wait4(pid, 0)
            d = json.load(open(stats))
            cpu = ru.ru_utime + ru.ru_stime
            res.setdefault((p, e), []).append((cpu, d["host_seconds"], d["instructions"], d["cycles"], d.get("regions_compiled"),
                d["host_seconds"] / (d["cycles"] / d["clock_hz"])))
for (p, e), v in sorted(res.items()):
    cpu = statistics.median(x[0] for x in v); run = statistics.median(x[1] for x in v)
    ins = v[0][2]
    assert all(x[2] == ins and x[3] == v[0][3] for x in v)
    hpm = statistics.median(x[5] for x in v)
    print(f"{os.path.basename(p):14s} host-s/modeled-s {hpm:6.2f} {e:6s} cpu {cpu:6.3f} s  run {run:6.3f} s  {ins/run/1e6:6.0f} MIPS(run)  insns {ins} cycles {v[0][3]} regions {v[0][4]}  cpu-all {[round(x[0],3) for x in v]}")
