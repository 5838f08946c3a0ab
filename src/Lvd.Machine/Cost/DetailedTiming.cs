namespace Lvd.Machine.Cost;

/// <summary>
/// One set-associative cache level with true LRU replacement, by physical line address: it says whether a line is
/// present and makes it the most recent (allocating on a miss, on reads and writes alike).
/// </summary>
internal sealed class CacheLevel
{
    private const int LineShift = 6;
    private readonly ulong[] _tags;
    private readonly uint[] _stamps;
    private readonly int _ways;
    private readonly ulong _sets;
    private uint _clock;

    public long Hits, Misses;

    public CacheLevel(long bytes, int ways)
    {
        _ways = ways;
        _sets = (ulong)(bytes >> LineShift) / (ulong)ways;
        _tags = new ulong[_sets * (ulong)ways];
        _stamps = new uint[_tags.Length];
        Array.Fill(_tags, ulong.MaxValue);
    }

    /// <summary>Looks the line of <paramref name="pa"/> up; true on a hit. Either way the line is the set's most recent after.</summary>
    public bool Access(ulong pa)
    {
        ulong line = pa >> LineShift;
        int set = (int)(line % _sets) * _ways;
        int victim = set;
        uint oldest = uint.MaxValue;
        uint now = ++_clock;
        for (int w = set; w < set + _ways; w++)
        {
            if (_tags[w] == line)
            {
                _stamps[w] = now;
                Hits++;
                return true;
            }
            if (_stamps[w] < oldest) { oldest = _stamps[w]; victim = w; }
        }
        _tags[victim] = line;
        _stamps[victim] = now;
        Misses++;
        return false;
    }
}

/// <summary>
/// `--timing detailed` (docs/COST-MODEL.md, Detailed timing): the data caches of one vCPU — its L1 and L2, and the
/// LLC it shares with every vCPU — sized as the paper's Xeon E5-2660 v3 (32 KiB 8-way, 256 KiB 8-way, 25 MiB
/// 20-way, 64-byte lines). A load that misses L1 adds the extra latency of the level that has the line (the cost
/// file's l2_hit, llc_hit, dram entries); a store allocates the line but adds nothing (the store buffer hides it).
/// Misses are charged one after another (no overlap of independent misses).
/// </summary>
public sealed class DataCaches
{
    private readonly CacheLevel _l1 = new(32 << 10, 8), _l2 = new(256 << 10, 8);
    private readonly CacheLevel _llc;
    private readonly int _l2Extra, _llcExtra, _dramExtra;

    internal DataCaches(object sharedLlc, CostModel costs)
    {
        _llc = (CacheLevel)sharedLlc;
        _l2Extra = costs.L2Hit;
        _llcExtra = costs.LlcHit;
        _dramExtra = costs.Dram;
    }

    /// <summary>The LLC every vCPU of a machine shares.</summary>
    public static object NewSharedLlc() => new CacheLevel(25 << 20, 20);

    /// <summary>The extra cycles of a load of <paramref name="pa"/> beyond an L1 hit.</summary>
    public int Load(ulong pa)
    {
        if (_l1.Access(pa)) return 0;
        if (_l2.Access(pa)) return _l2Extra;
        return _llc.Access(pa) ? _llcExtra : _dramExtra;
    }

    /// <summary>A store: the line is brought in (write-allocate), at no cost to the vCPU.</summary>
    public void Store(ulong pa)
    {
        if (!_l1.Access(pa) && !_l2.Access(pa)) _llc.Access(pa);
    }

    public long L1Hits => _l1.Hits;
    public long L1Misses => _l1.Misses;
    public long L2Misses => _l2.Misses;
    public long LlcMisses => _llc.Misses;
}

/// <summary>
/// `--timing detailed`: one vCPU's branch predictor — gshare for conditional branches (4,096 two-bit counters
/// indexed by the branch address and 12 bits of global history), a 512-entry target buffer for indirect jumps and
/// calls, a 16-entry return stack. A mispredicted branch adds the cost file's branch_mispredict cycles.
/// </summary>
public sealed class BranchPredictor
{
    private const int HistoryBits = 12, Counters = 1 << HistoryBits, Targets = 512, Returns = 16;
    private readonly byte[] _counters = new byte[Counters];
    private readonly ulong[] _targets = new ulong[Targets];
    private readonly ulong[] _returns = new ulong[Returns];
    private int _history, _top, _depth;
    private readonly int _penalty;

    public long Branches, Mispredicts;

    internal BranchPredictor(CostModel costs)
    {
        _penalty = costs.BranchMispredict;
        Array.Fill(_counters, (byte)1);
    }

    /// <summary>A conditional branch at <paramref name="rip"/> resolved <paramref name="taken"/>: the extra cycles.</summary>
    public int Conditional(ulong rip, bool taken)
    {
        Branches++;
        int i = (int)((rip >> 1) ^ (ulong)_history) & (Counters - 1);
        byte c = _counters[i];
        bool predicted = c >= 2;
        _counters[i] = taken ? (byte)Math.Min(3, c + 1) : (byte)Math.Max(0, c - 1);
        _history = ((_history << 1) | (taken ? 1 : 0)) & (Counters - 1);
        if (predicted == taken) return 0;
        Mispredicts++;
        return _penalty;
    }

    /// <summary>An indirect jump or call at <paramref name="rip"/> went to <paramref name="target"/>: the extra cycles.</summary>
    public int Indirect(ulong rip, ulong target)
    {
        Branches++;
        int i = (int)(rip >> 1) & (Targets - 1);
        bool hit = _targets[i] == target;
        _targets[i] = target;
        if (hit) return 0;
        Mispredicts++;
        return _penalty;
    }

    /// <summary>A call pushed <paramref name="returnAddress"/>.</summary>
    public void Call(ulong returnAddress)
    {
        _top = (_top + 1) & (Returns - 1);
        _returns[_top] = returnAddress;
        if (_depth < Returns) _depth++;
    }

    /// <summary>A return went to <paramref name="target"/>: the extra cycles (the stack empty or wrong: mispredicted).</summary>
    public int Return(ulong target)
    {
        Branches++;
        bool hit = _depth > 0 && _returns[_top] == target;
        if (_depth > 0) { _top = (_top - 1) & (Returns - 1); _depth--; }
        if (hit) return 0;
        Mispredicts++;
        return _penalty;
    }
}
