// create_connection with options: local_addr=, happy_eyeballs_delay=, interleave= (RFC 8305).
//
// Without a delay the addresses are tried one after another, each to its end. With a delay, a
// staggered race [asyncio.staggered.staggered_race]: attempt 1 starts; whenever an attempt fails,
// or the delay passes without a connection, the next one starts while the earlier ones go on; the
// first socket to connect wins. The losers are cancelled — each attempt is its own LoopTask, so a
// cancel reaches its pending connect, which removes its writer and disposes its socket — and
// awaited before the winner is returned, so nothing stays registered. A cancel of the whole
// operation does the same to every attempt. Interleaving (default 1 with a delay) alternates the
// address families, so a broken IPv6 path costs one delay rather than one per IPv6 address.
using System.Net;
using System.Net.Sockets;

namespace Aio.Net;

public static partial class Network
{
    /// <summary>
    /// Opens a TCP connection to <paramref name="host"/>:<paramref name="port"/> as
    /// <see cref="CreateConnectionAsync(Func{Protocol}, string, int, CancellationToken)"/> does, with
    /// <paramref name="options"/>: a local address, Happy Eyeballs across the host's addresses, and
    /// their interleaving by family [loop.create_connection(..., local_addr=, happy_eyeballs_delay=, interleave=)].
    /// </summary>
    /// <returns>A task (already running) with the transport and the protocol; it fails with a
    /// <see cref="SocketException"/> when no address accepts the connection, and ends cancelled when
    /// cancelled (every attempt's socket closed, nothing registered with the loop).</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="host"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is outside 0–65535, the delay is negative or the interleave below 1.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<(ITransport Transport, Protocol Protocol)> CreateConnectionAsync(Func<Protocol> protocolFactory, string host, int port, ConnectionOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(protocolFactory);
        ArgumentException.ThrowIfNullOrEmpty(host);
        ArgumentNullException.ThrowIfNull(options);
        CheckPort(port);
        CheckConnectionOptions(options);
        EventLoop loop = EventLoop.GetRunningLoop();
        return loop.CreateCancellableTask(
            async () => await ConnectWithOptionsAsync(loop, protocolFactory, await ResolveAsync(loop, host), port, options),
            "create-connection",
            cancellationToken);
    }

    /// <summary>
    /// Opens a TCP connection to the first of <paramref name="addresses"/> that accepts it on
    /// <paramref name="port"/>, in the given order (after interleaving), with
    /// <paramref name="options"/> [create_connection after the name was resolved; .NET's
    /// <c>Socket.ConnectAsync(IPAddress[], int)</c>]. See
    /// <see cref="CreateConnectionAsync(Func{Protocol}, string, int, ConnectionOptions, CancellationToken)"/>.
    /// </summary>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="addresses"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is outside 0–65535, the delay is negative or the interleave below 1.</exception>
    /// <exception cref="InvalidOperationException">No loop is running on this thread.</exception>
    public static LoopTask<(ITransport Transport, Protocol Protocol)> CreateConnectionAsync(Func<Protocol> protocolFactory, IReadOnlyList<IPAddress> addresses, int port, ConnectionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(protocolFactory);
        ArgumentNullException.ThrowIfNull(addresses);
        if (addresses.Count == 0)
        {
            throw new ArgumentException("Give at least one address to connect to.", nameof(addresses));
        }

        CheckPort(port);
        options ??= new ConnectionOptions();
        CheckConnectionOptions(options);
        IPAddress[] list = [.. addresses];
        EventLoop loop = EventLoop.GetRunningLoop();
        return loop.CreateCancellableTask(() => ConnectWithOptionsAsync(loop, protocolFactory, list, port, options), "create-connection", cancellationToken);
    }

    /// <summary>
    /// asyncio's _interleave_addrinfos: <paramref name="firstFamilyCount"/> − 1 addresses of the
    /// first family, then one of each family in turn (families in order of first appearance).
    /// </summary>
    internal static List<IPEndPoint> Interleave(IReadOnlyList<IPEndPoint> endPoints, int firstFamilyCount)
    {
        var byFamily = new List<Queue<IPEndPoint>>();
        var families = new List<AddressFamily>();
        foreach (IPEndPoint endPoint in endPoints)
        {
            int index = families.IndexOf(endPoint.AddressFamily);
            if (index < 0)
            {
                families.Add(endPoint.AddressFamily);
                byFamily.Add(new Queue<IPEndPoint>());
                index = families.Count - 1;
            }

            byFamily[index].Enqueue(endPoint);
        }

        var ordered = new List<IPEndPoint>(endPoints.Count);
        for (int i = 0; i < firstFamilyCount - 1 && byFamily.Count > 0 && byFamily[0].Count > 0; i++)
        {
            ordered.Add(byFamily[0].Dequeue());
        }

        while (ordered.Count < endPoints.Count)
        {
            foreach (Queue<IPEndPoint> family in byFamily)
            {
                if (family.Count > 0)
                {
                    ordered.Add(family.Dequeue());
                }
            }
        }

        return ordered;
    }

    private static void CheckConnectionOptions(ConnectionOptions options)
    {
        if (options.HappyEyeballsDelay is { } delay && delay < TimeSpan.Zero && delay != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(options), delay, "HappyEyeballsDelay must not be negative (RFC 8305 recommends 250 ms).");
        }

        if (options.Interleave is { } interleave && interleave < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), interleave, "Interleave must be at least 1.");
        }
    }

    private static async Task<(ITransport Transport, Protocol Protocol)> ConnectWithOptionsAsync(EventLoop loop, Func<Protocol> protocolFactory, IPAddress[] addresses, int port, ConnectionOptions options)
    {
        List<IPEndPoint> endPoints = [.. addresses.Select(address => new IPEndPoint(address, port))];
        if (options.LocalAddress is { } local)
        {
            endPoints.RemoveAll(endPoint => endPoint.AddressFamily != local.AddressFamily);
            if (endPoints.Count == 0)
            {
                throw new SocketException((int)SocketError.AddressFamilyNotSupported, $"no matching local address with family={local.AddressFamily} found");
            }
        }

        int? interleave = options.Interleave ?? (options.HappyEyeballsDelay is null ? null : 1);
        if (interleave is { } count)
        {
            endPoints = Interleave(endPoints, count);
        }

        Socket socket = options.HappyEyeballsDelay is { } delay
            ? await RaceAsync(loop, endPoints, delay, options.LocalAddress)
            : await OneByOneAsync(loop, endPoints, options.LocalAddress);
        Protocol protocol = MakeProtocol(protocolFactory, socket);
        return (await MakeTransportAsync(loop, socket, protocol, peerName: null), protocol);
    }

    private static async Task<Socket> OneByOneAsync(EventLoop loop, List<IPEndPoint> endPoints, IPEndPoint? local)
    {
        var errors = new List<SocketException>();
        foreach (IPEndPoint endPoint in endPoints)
        {
            try
            {
                return await ConnectSocketAsync(loop, endPoint, local);
            }
            catch (SocketException error)
            {
                errors.Add(error);
            }
        }

        throw CombinedError(errors);
    }

    /// <summary>The staggered race (see the file's essay); returns the first connected socket.</summary>
    private static async Task<Socket> RaceAsync(EventLoop loop, List<IPEndPoint> endPoints, TimeSpan delay, IPEndPoint? local)
    {
        var attempts = new List<LoopTask<Socket>>();
        var running = new List<LoopTask<Socket>>();
        var errors = new List<SocketException>();
        Socket? winner = null;
        int next = 0;
        try
        {
            while (true)
            {
                for (int i = running.Count - 1; i >= 0; i--)
                {
                    LoopTask<Socket> attempt = running[i];
                    if (!attempt.IsDone)
                    {
                        continue;
                    }

                    running.RemoveAt(i);
                    if (attempt.GetException() is { } failure)
                    {
                        errors.Add(failure as SocketException ?? throw failure);
                    }
                    else if (winner is null && !attempt.IsCancelled)
                    {
                        winner = attempt.Result;
                    }
                }

                if (winner is not null)
                {
                    return winner;
                }

                if (next < endPoints.Count)
                {
                    IPEndPoint target = endPoints[next++];
                    LoopTask<Socket> attempt = loop.CreateTask(() => ConnectSocketAsync(loop, target, local), "happy-eyeballs-attempt", eager: true);
                    attempts.Add(attempt);
                    running.Add(attempt);
                    if (attempt.IsDone)
                    {
                        continue; // failed (or connected) at once: harvest it before waiting
                    }
                }
                else if (running.Count == 0)
                {
                    throw CombinedError(errors);
                }

                await LoopTask.Wait([.. running], next < endPoints.Count ? delay : null, ReturnWhen.FirstCompleted);
            }
        }
        finally
        {
            await ReleaseLosersAsync(attempts, winner);
        }
    }

    /// <summary>Cancels every attempt but the winner and waits until each has finished (its socket closed and unregistered).</summary>
    private static async Task ReleaseLosersAsync(List<LoopTask<Socket>> attempts, Socket? winner)
    {
        var pending = new List<Future>();
        foreach (LoopTask<Socket> attempt in attempts)
        {
            if (!attempt.IsDone)
            {
                attempt.Cancel("Happy Eyeballs: another attempt won or the connection was abandoned.");
                pending.Add(attempt);
            }
        }

        if (pending.Count > 0)
        {
            await LoopTask.Wait(pending);
        }

        foreach (LoopTask<Socket> attempt in attempts)
        {
            if (attempt.IsCompletedSuccessfully && !ReferenceEquals(attempt.Result, winner))
            {
                attempt.Result.Dispose(); // connected too late to win
            }
            else if (attempt.IsFaulted)
            {
                _ = attempt.GetException(); // observed: collected in errors or superseded
            }
        }
    }
}
