using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;

[assembly: Lvd.Machine.Diagnostics.MachineStateAssembly]

namespace Lvd.Machine.Diagnostics;

/// <summary>
/// A type whose objects a snapshot never copies: they are not part of the machine's state but
/// tools attached to it (a debugger, a profiler, an event sink). A restored machine keeps the
/// live machine's own. On a field: the field is neither saved nor restored (the machine's inputs, checkpoint hooks).
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Interface | AttributeTargets.Field, Inherited = true)]
public sealed class NotMachineStateAttribute : Attribute;

/// <summary>A snapshot cannot be restored into a machine (docs/DEBUGGING.md, Snapshots): which field and why.</summary>
public sealed class SnapshotException(string message) : Exception(message);

/// <summary>
/// Copies an object graph field by field (every instance field of every class, private ones
/// included), so that what a machine is — vCPUs, memory, devices, VMX-root software — can be
/// saved and put back without each class knowing about it. Objects fall in four kinds:
/// <list type="bullet">
/// <item>state: instances of types of the machine's own assemblies (those marked <c>[assembly: MachineStateAssembly]</c>,
/// i.e. Lvd.Machine and Lvd.Hypervisor), arrays, and the runtime's collections, value types and memory streams — copied;</item>
/// <item>immutable: strings, boxed primitives, reflection objects — shared;</item>
/// <item>tools: <see cref="NotMachineStateAttribute"/> types and everything of other assemblies (streams,
/// the CLI, gdb's stub, Iced's decoder) — shared when saving; when restoring, the live graph's object at the same
/// place is kept, and one that the live graph lacks is an error (<see cref="SnapshotException"/>);</item>
/// <item>delegates: rebuilt with the same method and the target mapped like any other reference.</item>
/// </list>
/// Arrays of value types without references (RAM pages, decoded ops) are copied with one block copy, unless the type has a
/// <see cref="NotMachineStateAttribute"/> field (a TLB entry's host addend): element by element, the field left out of
/// digests. Byte arrays a restore creates are allocated pinned (RAM pages: TLB entries hold their host addresses; the
/// owner recomputes those after a restore, <see cref="MachineSnapshot.RestoreInto"/>).
/// </summary>
internal sealed class ObjectGraph
{
    private enum Kind : byte { Immutable, Tool, Delegate, BlitArray, RefArray, Object }

    private sealed class TypeInfo
    {
        public Kind Kind;
        public FieldInfo[] Fields = [];
        /// <summary>Per field: a value without references (or a string), copied as it is.</summary>
        public bool[] Plain = [];
        /// <summary>Every field plain: a value of this type is copied as one value.</summary>
        public bool AllPlain = true;
    }

    private static readonly ConcurrentDictionary<Type, TypeInfo> Types = new();

    /// <summary>Restoring: snapshot objects mapped to the live objects they become; saving: live objects to their copies.</summary>
    private readonly Dictionary<object, object> _map = new(ReferenceEqualityComparer.Instance);
    /// <summary>Restoring: live objects already given a snapshot object's state (each one at most once).</summary>
    private readonly HashSet<object> _claimed = new(ReferenceEqualityComparer.Instance);
    private readonly Stack<(object From, object To)> _work = new();
    private readonly bool _restoring;

    private ObjectGraph(bool restoring) => _restoring = restoring;

    /// <summary>A deep copy of the state reachable from <paramref name="root"/> (tools shared).</summary>
    public static T Copy<T>(T root) where T : class
    {
        var g = new ObjectGraph(restoring: false);
        var copy = (T)g.Resolve(root, null, "root")!;
        g.Drain();
        return copy;
    }

    /// <summary>
    /// Gives <paramref name="live"/> and the objects reachable from it the state of <paramref name="saved"/> (a graph
    /// made by <see cref="Copy"/>), in place where the live graph has an object of the same type at the same place, so
    /// that references held from outside stay valid; <paramref name="saved"/> is not changed and can be restored again.
    /// </summary>
    public static void Restore(object saved, object live)
    {
        if (saved.GetType() != live.GetType())
            throw new SnapshotException($"a {saved.GetType().Name} cannot be restored into a {live.GetType().Name}");
        var g = new ObjectGraph(restoring: true);
        g._map[saved] = live;
        g._claimed.Add(live);
        g._work.Push((saved, live));
        g.Drain();
    }

    /// <summary>
    /// A hash of the state reachable from <paramref name="root"/> (every field of every state object, in a fixed
    /// order, with the shape of the references; tools by type only): equal for equal machines within one process.
    /// </summary>
    public static ulong Digest(object root)
    {
        var seen = new Dictionary<object, long>(ReferenceEqualityComparer.Instance);
        var work = new Stack<object>();
        ulong h = 14695981039346656037UL;
        void Mix(ulong v) { h ^= v; h *= 1099511628211UL; h ^= h >> 29; }
        void MixValue(object? v)
        {
            if (v == null) { Mix(0x9e37); return; }
            // Primitives and enums by their bits; strings by their hash (a digest compares runs within one process).
            switch (v)
            {
                case string s: Mix((uint)s.GetHashCode()); return;
                case double d: Mix((ulong)BitConverter.DoubleToInt64Bits(d)); return;
                case float f: Mix((uint)BitConverter.SingleToInt32Bits(f)); return;
                case ulong u: Mix(u); return;
                case nuint nu: Mix(nu); return;
                case bool b: Mix(b ? 1UL : 0); return;
                case char ch: Mix(ch); return;
                case nint ni: Mix(unchecked((ulong)ni)); return;
                case Enum or sbyte or byte or short or ushort or int or uint or long: Mix(unchecked((ulong)Convert.ToInt64(v))); return;
            }
            var t = v.GetType();
            var info = Info(t);
            if (t.IsValueType)
            {
                foreach (var f in info.Fields) MixValue(f.GetValue(v));
                return;
            }
            if (seen.TryGetValue(v, out long index)) { Mix(0xbac0 + (ulong)index); return; }
            seen[v] = seen.Count;
            switch (info.Kind)
            {
                case Kind.Immutable: Mix((ulong)t.FullName!.Length); return;
                case Kind.Tool: MixValue(t.FullName); return;
                case Kind.Delegate:
                    foreach (var p in ((Delegate)v).GetInvocationList()) { MixValue(p.Method.Name); MixValue(p.Target); }
                    return;
            }
            Mix(0x0b1ec7);
            work.Push(v);
        }
        MixValue(root);
        while (work.Count > 0)
        {
            var o = work.Pop();
            var info = Info(o.GetType());
            if (o is Array a)
            {
                Mix((ulong)a.Length);
                if (info.Kind == Kind.BlitArray && a.Length > 0)
                {
                    int length = checked(a.Length * ElementSize(a.GetType().GetElementType()!));
                    var bytes = System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(
                        ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(a), length);
                    foreach (byte x in bytes) { h ^= x; h *= 1099511628211UL; }
                }
                else foreach (var e in a) MixValue(e);
                continue;
            }
            foreach (var f in info.Fields) MixValue(f.GetValue(o));
        }
        return h;
    }

    private static readonly ConcurrentDictionary<Type, int> Sizes = new();

    private static int ElementSize(Type t) => Sizes.GetOrAdd(t, e =>
        (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(e).Invoke(null, null)!);

    private void Drain()
    {
        while (_work.Count > 0)
        {
            var (from, to) = _work.Pop();
            var info = Info(from.GetType());
            if (info.Kind == Kind.BlitArray)
            {
                var a = (Array)from;
                Array.Copy(a, (Array)to, a.Length);
            }
            else if (info.Kind == Kind.RefArray)
            {
                var a = (object?[])from;
                var b = (object?[])to;
                for (int i = 0; i < a.Length; i++) b[i] = Resolve(a[i], b[i], a.GetType().Name);
            }
            else if (from is Array arr)
            {
                // Arrays of value types with references (or multi-dimensional arrays of references): element by element.
                var target = (Array)to;
                int[] index = new int[arr.Rank];
                for (int i = 0; i < arr.Length; i++)
                {
                    int rest = i;
                    for (int d = arr.Rank - 1; d >= 0; d--) { int len = arr.GetLength(d); index[d] = rest % len; rest /= len; }
                    target.SetValue(Value(arr.GetValue(index), target.GetValue(index), arr.GetType().Name), index);
                }
            }
            else CopyFields(info, from, to);
        }
    }

    private void CopyFields(TypeInfo info, object from, object to)
    {
        for (int i = 0; i < info.Fields.Length; i++)
        {
            var f = info.Fields[i];
            object? v = f.GetValue(from);
            if (!info.Plain[i]) v = Value(v, f.GetValue(to), f.DeclaringType!.Name + "." + f.Name);
            f.SetValue(to, v);
        }
    }

    /// <summary>A field's new value: references resolved; value types with references copied field by field.</summary>
    private object? Value(object? from, object? to, string where)
    {
        if (from == null) return null;
        var t = from.GetType();
        if (!t.IsValueType) return Resolve(from, to, where);
        var info = Info(t);
        if (info.AllPlain) return from;
        // `from` is already a boxed copy: give its reference fields their resolved values.
        for (int i = 0; i < info.Fields.Length; i++)
        {
            if (info.Plain[i]) continue;
            var f = info.Fields[i];
            f.SetValue(from, Value(f.GetValue(from), to == null ? null : f.GetValue(to), t.Name + "." + f.Name));
        }
        return from;
    }

    private object? Resolve(object? from, object? live, string where)
    {
        if (from == null) return null;
        if (_map.TryGetValue(from, out var done)) return done;
        var info = Info(from.GetType());
        switch (info.Kind)
        {
            case Kind.Immutable:
                return from;
            case Kind.Tool:
                if (!_restoring) return from;
                if (live != null && live.GetType() == from.GetType()) { _map[from] = live; return live; }
                throw new SnapshotException(
                    $"{where}: the snapshot holds a {from.GetType().Name} that the machine it is restored into has no counterpart for");
            case Kind.Delegate:
                return Rebuild((Delegate)from, live as Delegate, where);
        }
        object target;
        if (live != null && live.GetType() == from.GetType() && !_claimed.Contains(live) && SameShape(from, live)) target = live;
        // Restoring, byte arrays (RAM pages among them) on the pinned heap: TLB entries hold host addresses of RAM pages.
        // (A snapshot's own copy never runs: its pages may move.)
        else if (_restoring && from is byte[] bytes) target = GC.AllocateUninitializedArray<byte>(bytes.Length, pinned: true);
        else if (from is Array a) target = Array.CreateInstance(a.GetType().GetElementType()!, Lengths(a));
        else target = RuntimeHelpers.GetUninitializedObject(from.GetType());
        _map[from] = target;
        if (_restoring) _claimed.Add(target);
        _work.Push((from, target));
        return target;
    }

    private Delegate Rebuild(Delegate from, Delegate? live, string where)
    {
        var parts = from.GetInvocationList();
        var liveParts = live?.GetInvocationList();
        var rebuilt = new Delegate[parts.Length];
        bool same = liveParts != null && liveParts.Length == parts.Length;
        for (int i = 0; i < parts.Length; i++)
        {
            var p = parts[i];
            var lp = liveParts != null && i < liveParts.Length && liveParts[i].Method == p.Method ? liveParts[i] : null;
            object? target = p.Target == null ? null : Resolve(p.Target, lp?.Target, where + " (delegate target)");
            if (lp != null && ReferenceEquals(target, lp.Target)) rebuilt[i] = lp;
            else
            {
                same = false;
                rebuilt[i] = target == null ? Delegate.CreateDelegate(p.GetType(), p.Method) : Delegate.CreateDelegate(p.GetType(), target, p.Method);
            }
        }
        var result = same ? live! : Delegate.Combine(rebuilt)!;
        _map[from] = result;
        return result;
    }

    private static bool SameShape(object a, object b)
    {
        if (a is not Array x) return true;
        var y = (Array)b;
        if (x.Rank != y.Rank) return false;
        for (int d = 0; d < x.Rank; d++) if (x.GetLength(d) != y.GetLength(d)) return false;
        return true;
    }

    private static int[] Lengths(Array a)
    {
        var l = new int[a.Rank];
        for (int d = 0; d < a.Rank; d++) l[d] = a.GetLength(d);
        return l;
    }

    private static TypeInfo Info(Type t) => Types.GetOrAdd(t, Describe);

    private static TypeInfo Describe(Type t)
    {
        var info = new TypeInfo();
        if (t == typeof(string) || t.IsPrimitive || t.IsEnum || t.IsPointer || typeof(MemberInfo).IsAssignableFrom(t)
            || typeof(Assembly).IsAssignableFrom(t))
        {
            info.Kind = Kind.Immutable;
            return info;
        }
        if (typeof(Delegate).IsAssignableFrom(t)) { info.Kind = Kind.Delegate; return info; }
        if (t.IsArray)
        {
            var e = t.GetElementType()!;
            info.Kind = e.IsValueType && !HasReferences(e) && !HasUnsavedFields(e) ? Kind.BlitArray
                : !e.IsValueType && t.GetArrayRank() == 1 && t == e.MakeArrayType() ? Kind.RefArray : Kind.Object;
            return info;
        }
        if (IsTool(t)) { info.Kind = Kind.Tool; return info; }
        info.Kind = Kind.Object;
        var fields = new List<FieldInfo>();
        for (var c = t; c != null && c != typeof(object); c = c.BaseType)
            foreach (var f in c.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                if (!f.IsDefined(typeof(NotMachineStateAttribute))) fields.Add(f);
        info.Fields = [.. fields];
        info.Plain = new bool[fields.Count];
        for (int i = 0; i < fields.Count; i++)
        {
            var ft = fields[i].FieldType;
            info.Plain[i] = ft.IsValueType && !HasReferences(ft) || ft == typeof(string);
            info.AllPlain &= info.Plain[i];
        }
        return info;
    }

    /// <summary>A value type with a <see cref="NotMachineStateAttribute"/> field: its arrays are not copied or hashed as raw bytes.</summary>
    private static bool HasUnsavedFields(Type t)
    {
        foreach (var f in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
            if (f.IsDefined(typeof(NotMachineStateAttribute))) return true;
        return false;
    }

    private static bool HasReferences(Type t) =>
        (bool)typeof(RuntimeHelpers).GetMethod(nameof(RuntimeHelpers.IsReferenceOrContainsReferences))!.MakeGenericMethod(t).Invoke(null, null)!;

    private static readonly Assembly CoreLib = typeof(object).Assembly;

    /// <summary>Not machine state: marked, or of an assembly other than the machine's own and the runtime's collections.</summary>
    private static bool IsTool(Type t)
    {
        if (t.IsDefined(typeof(NotMachineStateAttribute), inherit: true)) return true;
        foreach (var i in t.GetInterfaces()) if (i.IsDefined(typeof(NotMachineStateAttribute), inherit: false)) return true;
        var asm = t.Assembly;
        if (asm.IsDefined(typeof(MachineStateAssemblyAttribute))) return false;
        if (asm == CoreLib || asm.GetName().Name is "System.Collections" or "System.Runtime")
            // A MemoryStream (the UART's capture of the output) is state: bytes in memory.
            return typeof(Stream).IsAssignableFrom(t) && t != typeof(MemoryStream)
                || typeof(TextWriter).IsAssignableFrom(t) || typeof(TextReader).IsAssignableFrom(t)
                || typeof(Thread).IsAssignableFrom(t) || typeof(Task).IsAssignableFrom(t) || typeof(WaitHandle).IsAssignableFrom(t)
                || typeof(System.Runtime.InteropServices.SafeHandle).IsAssignableFrom(t) || typeof(WeakReference).IsAssignableFrom(t)
                || t.IsGenericType && t.GetGenericTypeDefinition() == typeof(WeakReference<>) || typeof(System.Text.Encoding).IsAssignableFrom(t)
                || typeof(System.Globalization.CultureInfo).IsAssignableFrom(t) || t == typeof(Timer)
                || t == typeof(CancellationTokenSource) || t == typeof(ManualResetEventSlim) || t == typeof(SemaphoreSlim);
        return true;
    }
}

/// <summary>
/// The assembly's types are machine state for snapshots (<see cref="ObjectGraph"/>): Lvd.Machine, and VMX-root software
/// such as Lvd.Hypervisor.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly)]
public sealed class MachineStateAssemblyAttribute : Attribute;
