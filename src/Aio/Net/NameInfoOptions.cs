namespace Aio.Net;

/// <summary>Flags of <see cref="NameResolutionLoopExtensions.GetNameInfoAsync"/> [socket.NI_*].</summary>
[Flags]
public enum NameInfoOptions
{
    /// <summary>No flag: look the host name up, falling back to the numeric address.</summary>
    None = 0,

    /// <summary>Answer the numeric address, without a lookup [NI_NUMERICHOST].</summary>
    NumericHost = 1,

    /// <summary>Answer the port as a number, without looking its service name up [NI_NUMERICSERV].</summary>
    NumericService = 2,

    /// <summary>Fail when the address has no name, instead of answering it numerically [NI_NAMEREQD].</summary>
    NameRequired = 8,

    /// <summary>Look the port up as a UDP service rather than TCP [NI_DGRAM].</summary>
    Datagram = 16,
}
