using System.ComponentModel;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Aio.Tests.Loop;

// Descriptors closed while registered, numbers the OS hands out again, and the OS refusing a
// registration: the loop must never run a stale callback for a new file, must let a closed handle
// be cleaned up, and must leave nothing registered after a refusal.
public abstract partial class IoReadinessTests
{
    [Fact]
    public void AddReader_SocketNumberReusedAfterCloseWhileRegistered_NewReaderFiresOldNever()
    {
        EventLoop loop = NewLoop();
        var old = SocketPair.Create();
        int staleRuns = 0;
        loop.AddReader(old.A, () => staleRuns++);
        int number = (int)old.A.Handle;
        old.Dispose(); // closed while registered, never removed

        using SocketPair? reused = ConnectedPairOnNumber(number);
        if (reused is null)
        {
            Assert.Fail($"the OS never handed descriptor {number} out again (another thread kept taking it)");
            return;
        }

        int freshRuns = 0;
        loop.AddReader(reused.A, () =>
        {
            freshRuns++;
            Drain(reused.A);
            loop.Stop();
        });
        reused.B.Send([1]);

        RunBounded(loop);

        Assert.Equal(1, freshRuns);
        Assert.Equal(0, staleRuns);
        Assert.False(loop.RemoveReader(old.A), "the stale registration should have been dropped when the number was reused");
        Assert.True(loop.RemoveReader(reused.A));
        Assert.Equal(0, loop.IoRegistrationCount);
    }

    [Fact]
    public void RemoveReader_SocketClosedWhileRegistered_RemovesItAndReturnsTrue()
    {
        EventLoop loop = NewLoop();
        using var pair = SocketPair.Create();
        loop.AddReader(pair.A, () => { });
        loop.AddWriter(pair.A, () => { });
        pair.A.Dispose();

        Assert.True(loop.RemoveReader(pair.A));
        Assert.True(loop.RemoveWriter(pair.A));
        Assert.False(loop.RemoveReader(pair.A));
        Assert.Equal(0, loop.IoRegistrationCount);
    }

    /// <summary>A connected loopback pair whose side A has descriptor <paramref name="number"/>, or null when the OS gives another.</summary>
    private static SocketPair? ConnectedPairOnNumber(int number)
    {
        // The OS hands out the lowest free number: hold every other one until ours comes up.
        var spare = new List<Socket>();
        try
        {
            for (int attempt = 0; attempt < 64; attempt++)
            {
                var candidate = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                if ((int)candidate.Handle != number)
                {
                    spare.Add(candidate);
                    continue;
                }

                using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                listener.Listen(1);
                candidate.Connect(listener.LocalEndPoint!);
                return SocketPair.FromConnected(candidate, listener.Accept());
            }

            return null;
        }
        finally
        {
            spare.ForEach(socket => socket.Dispose());
        }
    }
}

public sealed partial class IoReadinessEpollTests
{
    private const int EPerm = 1;
    private const int EBadF = 9;

    [Fact]
    public void AddReader_RawNumberReusedAfterCloseWhileRegistered_NewReaderFiresOldNever()
    {
        EventLoop loop = NewLoop();
        var old = new Pipe();
        int staleRuns = 0;
        SafeHandle oldHandle = old.Reader.SafePipeHandle;
        loop.AddReader(oldHandle, () => staleRuns++);
        int number = (int)oldHandle.DangerousGetHandle();
        old.Dispose(); // closed while registered: epoll forgot it, the loop's registration is stale

        Pipe? reused = null;
        var spare = new List<Pipe>(); // held open so the OS moves on to the next lowest number
        for (int attempt = 0; attempt < 64 && reused is null; attempt++)
        {
            var candidate = new Pipe();
            if ((int)candidate.Reader.SafePipeHandle.DangerousGetHandle() == number)
            {
                reused = candidate;
            }
            else
            {
                spare.Add(candidate);
            }
        }

        spare.ForEach(pipe => pipe.Dispose());
        Assert.True(reused is not null, $"the OS never handed descriptor {number} out again");
        using Pipe fresh = reused!;
        int freshRuns = 0;
        loop.AddReader(fresh.Reader.SafePipeHandle, () =>
        {
            freshRuns++;
            _ = fresh.Reader.ReadByte();
            loop.Stop();
        });
        fresh.Writer.WriteByte(9);
        fresh.Writer.Flush();

        RunBounded(loop);

        Assert.Equal(1, freshRuns);
        Assert.Equal(0, staleRuns);
        Assert.False(loop.RemoveReader(oldHandle));
        Assert.True(loop.RemoveReader(fresh.Reader.SafePipeHandle));
        Assert.Equal(0, loop.IoRegistrationCount);
    }

    [Fact]
    public void RemoveReader_RawHandleClosedWhileRegistered_RemovesItAndReturnsTrue()
    {
        EventLoop loop = NewLoop();
        var pipe = new Pipe();
        SafeHandle reader = pipe.Reader.SafePipeHandle;
        SafeHandle writer = pipe.Writer.SafePipeHandle;
        loop.AddReader(reader, () => { });
        loop.AddWriter(writer, () => { });
        pipe.Dispose();

        Assert.True(loop.RemoveReader(reader));
        Assert.True(loop.RemoveWriter(writer));
        Assert.False(loop.RemoveReader(reader));
        Assert.Equal(0, loop.IoRegistrationCount);
    }

    [Fact]
    public void AddReader_DescriptorNotOpen_ThrowsOsErrorEbadfAndRegistersNothing()
    {
        EventLoop loop = NewLoop();
        using var notOpen = new SafeFileHandle(1_000_000, ownsHandle: false);

        var error = Assert.Throws<Win32Exception>(() => loop.AddReader(notOpen, () => { }));

        Assert.Equal(EBadF, error.NativeErrorCode);
        Assert.Contains("epoll_ctl", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, loop.IoRegistrationCount);
        Assert.False(loop.RemoveReader(notOpen));
    }

    [Fact]
    public void AddWriter_RegularFile_ThrowsOsErrorEpermAndRegistersNothing()
    {
        EventLoop loop = NewLoop();
        string path = Path.GetTempFileName();
        try
        {
            using SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);

            var error = Assert.Throws<Win32Exception>(() => loop.AddWriter(file, () => { }));

            Assert.Equal(EPerm, error.NativeErrorCode);
            Assert.Equal(0, loop.IoRegistrationCount);
            Assert.False(loop.RemoveWriter(file));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
