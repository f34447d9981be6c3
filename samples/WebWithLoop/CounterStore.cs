using Aio.Hosting;

namespace WebWithLoop;

/// <summary>
/// A small in-memory store of named counters that is deliberately not thread-safe: it has no
/// locks, and every member checks that it runs on the shared loop's thread (and throws otherwise).
/// Request handlers reach it only through <see cref="SharedEventLoop.AwaitAsync{T}(Func{Task{T}}, CancellationToken)"/>,
/// so the loop serialises every access, as asyncio code would rely on.
/// </summary>
public sealed class CounterStore
{
    private readonly SharedEventLoop _sharedLoop;
    private readonly Dictionary<string, long> _counters = new(StringComparer.Ordinal);
    private readonly HashSet<int> _threads = [];
    private long _operations;

    /// <summary>Creates an empty store that lives on <paramref name="sharedLoop"/>'s loop.</summary>
    public CounterStore(SharedEventLoop sharedLoop) => _sharedLoop = sharedLoop;

    /// <summary>Adds <paramref name="by"/> to the counter <paramref name="name"/> (created at 0) and returns its new value. Loop thread only.</summary>
    /// <exception cref="InvalidOperationException">Called off the loop thread.</exception>
    public long Increment(string name, long by)
    {
        EnsureOnLoop();
        _counters.TryGetValue(name, out long value);
        value += by;
        _counters[name] = value;
        return value;
    }

    /// <summary>The counter's value, or null if it was never incremented. Loop thread only.</summary>
    /// <exception cref="InvalidOperationException">Called off the loop thread.</exception>
    public long? Get(string name)
    {
        EnsureOnLoop();
        return _counters.TryGetValue(name, out long value) ? value : null;
    }

    /// <summary>A copy of every counter, sorted by name, and how the store was used. Loop thread only.</summary>
    /// <exception cref="InvalidOperationException">Called off the loop thread.</exception>
    public StoreSnapshot Snapshot()
    {
        EnsureOnLoop();
        return new StoreSnapshot(
            new SortedDictionary<string, long>(_counters, StringComparer.Ordinal),
            _counters.Values.Sum(),
            _operations,
            _threads.Count,
            Environment.CurrentManagedThreadId);
    }

    private void EnsureOnLoop()
    {
        if (!_sharedLoop.IsLoopThread)
        {
            throw new InvalidOperationException(
                "CounterStore is single-threaded and lives on the shared loop; call it through SharedEventLoop.AwaitAsync.");
        }

        _operations++;
        _threads.Add(Environment.CurrentManagedThreadId);
    }
}

/// <summary>What <see cref="CounterStore.Snapshot"/> returns.</summary>
/// <param name="Counters">Every counter by name.</param>
/// <param name="Total">The sum of all counters.</param>
/// <param name="Operations">How many store calls ran (this one included).</param>
/// <param name="Threads">How many distinct threads ever touched the store: 1 while the loop has run on one thread.</param>
/// <param name="LoopThreadId">The managed id of the loop thread.</param>
public sealed record StoreSnapshot(IReadOnlyDictionary<string, long> Counters, long Total, long Operations, int Threads, int LoopThreadId);
