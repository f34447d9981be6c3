using System.Diagnostics;
using System.IO.Pipes;
using System.Text;
using Aio.Net;
using Microsoft.Win32.SafeHandles;

namespace Aio.Tests.Net;

/// <summary>loop.connect_read_pipe / connect_write_pipe over a FIFO, and over pipe streams.</summary>
public abstract class PipeConnectionTests : NetTestBase
{
    [Fact]
    public void ConnectReadPipe_Fifo_DeliversBytesThenEofAndLost()
    {
        string path = MakeFifo();
        try
        {
            (SafeFileHandle reader, SafeFileHandle writer) = OpenFifo(path);
            using (writer)
            {
                Run(async loop =>
                {
                    var recorder = new Recorder(loop);
                    (IReadTransport transport, Protocol protocol) = await Network.ConnectReadPipeAsync(() => recorder, reader);
                    Assert.Same(recorder, protocol);
                    Assert.True(transport.IsReading);
                    Assert.Throws<NotSupportedException>(() => recorder.Transport!.Write("x"u8));

                    using (var writing = new FileStream(writer, FileAccess.Write, bufferSize: 0))
                    {
                        writing.Write(Encoding.ASCII.GetBytes("through the fifo"));
                    }

                    await recorder.WaitForBytesAsync(16);
                    Assert.Equal("through the fifo", Encoding.ASCII.GetString([.. recorder.Received]));

                    // Disposing the stream closed the only writer: EOF.
                    await recorder.WaitLostAsync();
                    Assert.Equal(["made", "eof", "lost"], recorder.Events);
                    Assert.Null(recorder.LostWith);
                    Assert.True(reader.IsClosed);
                });
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ConnectWritePipe_Fifo_BytesReachTheReaderAndCloseGivesEof()
    {
        string path = MakeFifo();
        try
        {
            (SafeFileHandle reader, SafeFileHandle writer) = OpenFifo(path);
            using (reader)
            {
                Run(async loop =>
                {
                    var recorder = new Recorder(loop);
                    (IWriteTransport transport, _) = await Network.ConnectWritePipeAsync(() => recorder, writer);
                    Assert.Throws<NotSupportedException>(() => recorder.Transport!.PauseReading());
                    byte[] payload = new byte[200_000]; // more than the pipe holds: the rest is buffered
                    Random.Shared.NextBytes(payload);
                    Future<byte[]> reading = loop.WrapTask(Task.Run(() =>
                    {
                        var all = new MemoryStream();
                        using var reading = new FileStream(reader, FileAccess.Read, bufferSize: 0);
                        reading.CopyTo(all);
                        return all.ToArray();
                    }));
                    transport.Write(payload);
                    transport.Close();
                    await recorder.WaitLostAsync();
                    Assert.Equal(payload, await reading);
                    Assert.Equal(["made", "lost"], recorder.Events.Where(e => e is "made" or "lost"));
                });
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ConnectPipes_AnonymousPipeStreams_RoundTrip()
    {
        Run(async loop =>
        {
            var server = new AnonymousPipeServerStream(PipeDirection.Out);
            var client = new AnonymousPipeClientStream(PipeDirection.In, server.ClientSafePipeHandle);
            var reader = new Recorder(loop);
            var writer = new Recorder(loop);
            (IReadTransport readTransport, _) = await Network.ConnectReadPipeAsync(() => reader, client);
            (IWriteTransport writeTransport, _) = await Network.ConnectWritePipeAsync(() => writer, server);
            writeTransport.Write("ping"u8);
            await reader.WaitForBytesAsync(4);
            Assert.Equal("ping"u8.ToArray(), reader.Received);
            writeTransport.Close();
            await writer.WaitLostAsync();
            await reader.WaitLostAsync();
            Assert.Contains("eof", reader.Events);
            Assert.True(readTransport.IsClosing);
        });
    }

    [Fact]
    public void ConnectReadPipe_ClosedHandle_ThrowsArgumentException()
    {
        Run(loop =>
        {
            var closed = new SafeFileHandle(-1, ownsHandle: false);
            Assert.Throws<ArgumentException>(() => Network.ConnectReadPipeAsync(() => new Recorder(loop), closed));
            return Task.CompletedTask;
        });
    }

    private static string MakeFifo()
    {
        string path = Path.Combine(Path.GetTempPath(), "aio-fifo-" + Guid.NewGuid().ToString("N"));
        using var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", [path]) { UseShellExecute = false })!;
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
        return path;
    }

    /// <summary>Opens both ends: each open blocks until the other end is opened, so one runs on a worker.</summary>
    private static (SafeFileHandle Reader, SafeFileHandle Writer) OpenFifo(string path)
    {
        Task<SafeFileHandle> writer = Task.Run(() => File.OpenHandle(path, FileMode.Open, FileAccess.Write));
        SafeFileHandle reader = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        return (reader, writer.GetAwaiter().GetResult());
    }
}

[Collection("net")]
public sealed class PipeConnectionEpollTests : PipeConnectionTests
{
    protected override LoopBackend Backend => LoopBackend.Epoll;
}

[Collection("net")]
public sealed class PipeConnectionPortableTests : PipeConnectionTests
{
    protected override LoopBackend Backend => LoopBackend.Portable;
}
