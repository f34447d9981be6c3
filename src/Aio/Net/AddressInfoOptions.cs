namespace Aio.Net;

/// <summary>Flags of <see cref="NameResolutionLoopExtensions.GetAddrInfoAsync"/> [socket.AI_*]; the values are POSIX's.</summary>
[Flags]
public enum AddressInfoOptions
{
    /// <summary>No flag.</summary>
    None = 0,

    /// <summary>With no host, answer the wildcard addresses (to bind) instead of loopback (to connect) [AI_PASSIVE].</summary>
    Passive = 1,

    /// <summary>Put the host's canonical name on the first answer [AI_CANONNAME].</summary>
    CanonicalName = 2,

    /// <summary>The host must be an IP literal; never look a name up [AI_NUMERICHOST].</summary>
    NumericHost = 4,
}
