#!/usr/bin/env python3
"""host-speed-ab.py: compare builds of the CLI side by side in fresh processes (docs/HOST-SPEED.md).

Usage: LVD_ROOT=REPO scripts/host-speed-ab.py DIR_A,DIR_B[,...] ROUNDS PROG...
  DIR      a directory holding lvd.dll (a copy of src/Lvd.Cli/bin/Release/net10.0, or a
           `dotnet publish -r linux-x64 -p:PublishReadyToRun=true -o DIR`, as ./lvd builds it)
  PROG     an ELF (run with `lvd exec PROG`), or boot / bootept / bootlong / bootlongept:
           `lvd boot --workload nullnet`, with --hypervisor (ept), with --duration 400000000 (long)
Each round runs every PROG under every build in turn. Printed per run: the process's CPU time
(user + system, from wait4), the run's host seconds, instructions, cycles and a hash of the
output; then the medians. Builds that model the same machine print the same instructions,
cycles and output hashes.
"""
import hashlib, json, os, statistics, subprocess, sys, tempfile

builds = sys.argv[1].split(',')
rounds = int(sys.argv[2])
progs = sys.argv[3:]
tmp = tempfile.mkdtemp(prefix='lvd-ab-')
stats, out_path = os.path.join(tmp, 'stats.json'), os.path.join(tmp, 'out.txt')
res = {}
for r in range(rounds):
    for p in progs:
        for b in builds:
            if p.startswith('boot'):
                args = ['boot', '--workload', 'nullnet'] + (['--hypervisor'] if 'ept' in p else []) \
                    + (['--duration', '400000000'] if 'long' in p else [])
            else:
                args = ['exec', p]
            with open(out_path, 'wb') as out:
                proc = subprocess.Popen(['dotnet', os.path.join(b, 'lvd.dll')] + args + ['--stats-json', stats],
                                        stdout=out, stderr=subprocess.STDOUT)
                _, status, usage = os.wait4(proc.pid, 0)
            cpu = usage.ru_utime + usage.ru_stime
            s = json.load(open(stats))
            # The boot's output names host seconds; hash the rest.
            lines = [l for l in open(out_path, 'rb').read().split(b'\n') if b'host' not in l.lower()]
            h = hashlib.sha1(b'\n'.join(lines)).hexdigest()[:10]
            res.setdefault((p, b), []).append((cpu, s['host_seconds'], s['instructions'], s['cycles'], h))
            print('round %d %-14s %-24s cpu %.3f run %.3f insns %d cycles %d out %s status %d' % (
                r, os.path.basename(p), b, cpu, s['host_seconds'], s['instructions'], s['cycles'], h, status), flush=True)
print()
for p in progs:
    for b in builds:
        v = res[(p, b)]
        print('%-14s %-24s median cpu %.3f  median run %.3f  insns %s cycles %s out %s' % (
            os.path.basename(p), b, statistics.median(x[0] for x in v), statistics.median(x[1] for x in v),
            sorted(set(x[2] for x in v)), sorted(set(x[3] for x in v)), sorted(set(x[4] for x in v))))
