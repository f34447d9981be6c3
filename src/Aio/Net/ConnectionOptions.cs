using System.Net;

namespace Aio.Net;

/// <summary>
/// Settings for <see cref="Network.CreateConnectionAsync(Func{Protocol}, string, int, ConnectionOptions, CancellationToken)"/>
/// [the keyword arguments of loop.create_connection]. Immutable once built.
/// </summary>
public sealed class ConnectionOptions
{
    /// <summary>
    /// The local address (and port; 0 lets the system pick) each attempt binds before connecting
    /// [local_addr=]. Only addresses of its family are tried; none of them → <see cref="System.Net.Sockets.SocketException"/>.
    /// Default null: the system chooses.
    /// </summary>
    public IPEndPoint? LocalAddress { get; init; }

    /// <summary>
    /// Happy Eyeballs (RFC 8305) [happy_eyeballs_delay=]: with several addresses, the next attempt
    /// starts when the previous one failed or after this delay, whichever comes first, while the
    /// earlier ones go on; the first to connect wins and the others are cancelled. RFC 8305
    /// recommends 250 ms. Default null: one attempt at a time, each to its end (as
    /// <see cref="System.Threading.Timeout.InfiniteTimeSpan"/>, no limit, but with the interleaving). Must not be otherwise negative.
    /// </summary>
    public TimeSpan? HappyEyeballsDelay { get; init; }

    /// <summary>
    /// Reorders the addresses by family before connecting [interleave=]: this many of the first
    /// family, then one of each family in turn. Default null: 1 when <see cref="HappyEyeballsDelay"/>
    /// is set (as asyncio), otherwise the resolver's order. Must be at least 1.
    /// </summary>
    public int? Interleave { get; init; }
}
