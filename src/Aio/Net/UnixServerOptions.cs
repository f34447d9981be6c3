namespace Aio.Net;

/// <summary>
/// Settings for <see cref="Network.CreateUnixServerAsync"/> [the keyword arguments of
/// loop.create_unix_server]. Immutable once built.
/// </summary>
public sealed class UnixServerOptions
{
    /// <summary>The listen queue length, and the most connections accepted per readiness callback [backlog]. Default 100; at least 1.</summary>
    public int Backlog { get; init; } = 100;

    /// <summary>Whether the new server listens and accepts at once [start_serving]. Default true.</summary>
    public bool StartServing { get; init; } = true;

    /// <summary>
    /// Whether closing the server removes its socket file, if the file is still the socket it bound
    /// [cleanup_socket, Python 3.13]. Default true. Abstract sockets have no file.
    /// </summary>
    public bool CleanupSocket { get; init; } = true;
}
