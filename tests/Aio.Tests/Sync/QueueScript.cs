// A random script of queue operations, played by a driver task on a loop (QueuePropertyTests).
// Steps, by kind: 0-1 start a producer task (one PutAsync of the next id), 2-3 start a consumer
// task (one GetAsync); the argument picks an eager start (even) and a token (multiple of 3).
// 4 TryPut the next id, 5 TryGet, 6 cancel a live task, 7 cancel a token, 8-9 yield 1-3 times.
// At the end the player drains the queue until every producer is done, cancels the consumers
// still waiting, and drains what they gave back.
//
// Observing order. An item leaves the queue when a get takes it or a put hands it to a waiting
// get; a waiting get may resume later, so its consumer cannot log the moment itself. Every put
// site, and every give-back, is followed at once by Scan(), which logs, in arrival order, the
// waiting gets that have just been handed an item. A getter cancelled after it was handed its
// item gives it back; its log entry is marked and the item must be logged again later, by
// whoever gets it, and no newer item may leave before it does. Checked at the end: every item
// whose put succeeded was delivered exactly once (not counting given-back entries), no other item
// was; ids grow with put order, so the first time each item leaves must be increasing (FIFO, and
// the priority queue on int ids); no waiter is left behind (puts up to MaxSize are stored, gets
// find exactly them); TaskDone/Join counts agree. Seeded mutations of the queue (a give-back put
// at the back or dropped, a cancelled waiter left linked) each fail this test within 500 cases.
using Aio.Sync;

namespace Aio.Tests.Sync;

/// <summary>A script: the queue kind (0 FIFO, 1 priority, 2 LIFO), its size, and the steps.</summary>
internal sealed record QueueScript(int QueueKind, int MaxSize, (int Kind, int Arg)[] Steps)
{
    public override string ToString() =>
        $"queue {QueueKind} max {MaxSize}: {string.Join(" ", Steps.Select(s => $"{s.Kind}/{s.Arg}"))}";
}

internal sealed class QueueScriptEntry(int item)
{
    public int Item { get; } = item;

    /// <summary>This delivery did not count: the getter was cancelled and gave the item back.</summary>
    public bool GivenBack { get; set; }

    /// <summary>Not a delivery: the moment the item went back into the queue.</summary>
    public bool IsGiveBack { get; init; }
}

internal sealed class QueueScriptPendingGet(Future<int> future)
{
    public Future<int> Future { get; } = future;

    public QueueScriptEntry? Logged { get; set; }
}

internal sealed class QueueScriptPlayer(EventLoop loop, QueueScript script)
{
    private readonly AsyncQueue<int> _queue = script.QueueKind switch
    {
        0 => new AsyncQueue<int>(script.MaxSize),
        1 => new AsyncPriorityQueue<int>(script.MaxSize),
        _ => new AsyncLifoQueue<int>(script.MaxSize),
    };

    private readonly List<QueueScriptEntry> _log = [];
    private readonly List<QueueScriptPendingGet> _pending = [];
    private readonly List<LoopTask> _producers = [];
    private readonly List<LoopTask> _consumers = [];
    private readonly List<CancellationTokenSource> _sources = [];
    private readonly HashSet<int> _succeeded = [];
    private readonly HashSet<int> _failed = [];
    private int _nextId;

    public async Task RunAsync()
    {
        foreach ((int kind, int arg) in script.Steps)
        {
            await StepAsync(kind, arg);
        }

        await SettleAsync();
        Check();
        foreach (CancellationTokenSource source in _sources)
        {
            source.Dispose();
        }
    }

    private async Task StepAsync(int kind, int arg)
    {
        switch (kind)
        {
            case 0 or 1:
                _producers.Add(loop.CreateTask(ct => ProduceAsync(TokenFor(arg)), eager: arg % 2 == 0));
                break;
            case 2 or 3:
                _consumers.Add(loop.CreateTask(ct => ConsumeAsync(TokenFor(arg)), eager: arg % 2 == 0));
                break;
            case 4:
                int id = _nextId++;
                (_queue.TryPut(id) ? _succeeded : _failed).Add(id);
                Scan();
                break;
            case 5:
                TryGetOne();
                break;
            case 6:
                LoopTask[] live = [.. _producers.Concat(_consumers).Where(t => !t.IsDone)];
                if (live.Length > 0)
                {
                    live[arg % live.Length].Cancel();
                }

                break;
            case 7:
                if (_sources.Count > 0)
                {
                    await _sources[arg % _sources.Count].CancelAsync();
                }

                break;
            default:
                for (int i = 0; i <= arg % 3; i++)
                {
                    await LoopTask.Yield();
                }

                break;
        }
    }

    private CancellationToken TokenFor(int arg)
    {
        if (arg % 3 != 0)
        {
            return default;
        }

        var source = new CancellationTokenSource();
        _sources.Add(source);
        return source.Token;
    }

    private async Task ProduceAsync(CancellationToken token)
    {
        int id = _nextId++;
        Future put = _queue.PutAsync(id, token);
        Scan();
        try
        {
            await put;
            _succeeded.Add(id);
        }
        catch (CancelledError)
        {
            _failed.Add(id);
        }
    }

    private async Task ConsumeAsync(CancellationToken token)
    {
        QueueGetAwaitable<int> get = _queue.GetAsync(token);
        if (get.IsCompleted)
        {
            // Took an item at once (or the token was already cancelled): log it now.
            Scan();
            try
            {
                _log.Add(new QueueScriptEntry(await get));
            }
            catch (CancelledError)
            {
            }

            return;
        }

        var pending = new QueueScriptPendingGet(get.AsFuture());
        _pending.Add(pending);
        try
        {
            int item = await get;
            Scan();
            Assert.Equal(item, pending.Logged?.Item);
        }
        catch (CancelledError)
        {
            // Every hand-off was logged by the Scan after it, so the log already shows ours, if any.
            Assert.Equal(pending.Future.IsCompletedSuccessfully, pending.Logged is not null);
            if (pending.Logged is { } entry)
            {
                // Handed its item, then cancelled: it gave the item back, maybe to the next getter.
                entry.GivenBack = true;
                _log.Add(new QueueScriptEntry(entry.Item) { IsGiveBack = true });
                Scan();
            }
        }
    }

    private void TryGetOne()
    {
        if (_queue.TryGet(out int item))
        {
            Scan();
            _log.Add(new QueueScriptEntry(item));
        }
    }

    /// <summary>Logs the waiting gets that were handed an item, in the order they started waiting.</summary>
    private void Scan()
    {
        foreach (QueueScriptPendingGet pending in _pending)
        {
            if (pending.Logged is null && pending.Future.IsCompletedSuccessfully)
            {
                pending.Logged = new QueueScriptEntry(pending.Future.Result);
                _log.Add(pending.Logged);
            }
        }

        _pending.RemoveAll(p => p.Future.IsDone);
    }

    private async Task SettleAsync()
    {
        for (int round = 0; _producers.Any(p => !p.IsDone); round++)
        {
            Assert.True(round < 10_000, "producers never finished");
            while (_queue.Count > 0)
            {
                TryGetOne();
            }

            await LoopTask.Yield();
        }

        foreach (LoopTask consumer in _consumers)
        {
            consumer.Cancel();
        }

        for (int round = 0; _consumers.Any(c => !c.IsDone); round++)
        {
            Assert.True(round < 10_000, "consumers never finished");
            await LoopTask.Yield();
        }

        while (_queue.Count > 0)
        {
            TryGetOne();
        }

        foreach (LoopTask task in _producers.Concat(_consumers))
        {
            Assert.True(task.IsCompletedSuccessfully || task.IsCancelled, $"{task} failed: {(task.IsFaulted ? task.GetException() : null)}");
        }
    }

    private void Check()
    {
        Assert.Equal(_nextId, _succeeded.Count + _failed.Count);
        Assert.Empty(_succeeded.Intersect(_failed));

        int[] delivered = [.. _log.Where(e => !e.GivenBack && !e.IsGiveBack).Select(e => e.Item).Order()];
        Assert.Equal(_succeeded.Order(), delivered);
        for (int i = 0; i < _log.Count; i++)
        {
            if (_log[i].IsGiveBack)
            {
                // Delivered again later; in FIFO order it is the oldest item there is, so no
                // newer item leaves before it does.
                int item = _log[i].Item;
                QueueScriptEntry next = _log.Skip(i + 1).First(e => !e.IsGiveBack && e.Item >= item);
                Assert.True(script.QueueKind == 2 || next.Item == item, $"{next.Item} left before given-back {item}");
                Assert.Contains(_log.Skip(i + 1), later => later.Item == item && !later.IsGiveBack);
            }
        }

        if (script.QueueKind != 2)
        {
            // Ids grow with put order: the first time each item leaves is in put order.
            int[] firstLeaves = [.. _log.Where(e => !e.IsGiveBack).Select(e => e.Item).Distinct()];
            Assert.Equal(firstLeaves.Order(), firstLeaves);
        }

        // No waiter was left behind: puts up to MaxSize are stored, and gets find exactly them.
        Assert.True(_queue.IsEmpty);
        for (int i = 0; i < script.MaxSize; i++)
        {
            Assert.True(_queue.TryPut(-1 - i));
        }

        Assert.True(_queue.IsFull);
        Assert.False(_queue.TryPut(-100));
        var rest = new List<int>();
        while (_queue.TryGet(out int item))
        {
            rest.Add(item);
        }

        Assert.Equal(Enumerable.Range(1, script.MaxSize).Select(i => -i).Order(), rest.Order());

        // Every successful put counted one unfinished item.
        for (int i = 0; i < _succeeded.Count + script.MaxSize; i++)
        {
            _queue.TaskDone();
        }

        Assert.True(_queue.JoinAsync().IsDone);
        Assert.Throws<InvalidOperationException>(_queue.TaskDone);
    }
}
