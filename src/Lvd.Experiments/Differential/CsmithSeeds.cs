namespace Lvd.Experiments.Differential;

/// <summary>The seed-list file format: one seed per line, '#' starts a comment.</summary>
public static class CsmithSeeds
{
    public static List<ulong> Parse(string text, string name)
    {
        var seeds = new List<ulong>();
        int line = 0;
        foreach (var raw in text.Split('\n'))
        {
            line++;
            var s = raw.Split('#')[0].Trim();
            if (s.Length == 0) continue;
            if (!ulong.TryParse(s, out ulong seed)) throw new ExperimentException($"{name}:{line}: not a seed: \"{s}\"");
            seeds.Add(seed);
        }
        return seeds;
    }
}
