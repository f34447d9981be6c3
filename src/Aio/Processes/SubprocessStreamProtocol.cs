// The protocol behind AsyncProcess [asyncio.subprocess.SubprocessStreamProtocol]: stdout and stderr
// feed AsyncStreamReaders (which pause their pipe above twice their limit), and stdin gets an
// AsyncStreamWriter whose drain follows the stdin pipe's PauseWriting/ResumeWriting through an
// AsyncStreamReaderProtocol without a reader (asyncio's FlowControlMixin). Once the child has exited
// and every pipe has ended, the transport is closed, as asyncio's _maybe_close_transport does.
using Aio.Net;

namespace Aio.Processes;

/// <summary>Feeds a subprocess's pipes to stream readers and a writer. Loop thread only.</summary>
internal sealed class SubprocessStreamProtocol : SubprocessProtocol
{
    private readonly EventLoop _loop;
    private readonly int _limit;
    private readonly AsyncStreamReaderProtocol _stdinFlow;
    private readonly HashSet<int> _openPipes = [];
    private ISubprocessTransport? _transport;
    private bool _exited;

    public SubprocessStreamProtocol(EventLoop loop, int limit)
    {
        _loop = loop;
        _limit = limit;
        _stdinFlow = new AsyncStreamReaderProtocol(loop, reader: null);
    }

    public AsyncStreamWriter? Stdin { get; private set; }

    public AsyncStreamReader? Stdout { get; private set; }

    public AsyncStreamReader? Stderr { get; private set; }

    public override void ConnectionMade(ISubprocessTransport transport)
    {
        _transport = transport;
        if (transport.GetPipeTransport(1) is IReadTransport stdout)
        {
            Stdout = new AsyncStreamReader(_limit);
            Stdout.SetTransport(stdout);
            _openPipes.Add(1);
        }

        if (transport.GetPipeTransport(2) is IReadTransport stderr)
        {
            Stderr = new AsyncStreamReader(_limit);
            Stderr.SetTransport(stderr);
            _openPipes.Add(2);
        }

        if (transport.GetPipeTransport(0) is IWriteTransport stdin)
        {
            Stdin = new AsyncStreamWriter(stdin, _stdinFlow, reader: null);
            _openPipes.Add(0);
        }
    }

    public override void PipeDataReceived(int fd, ReadOnlySpan<byte> data) => ReaderOf(fd)?.FeedData(data);

    public override void PipeConnectionLost(int fd, Exception? exception)
    {
        if (fd == 0)
        {
            _stdinFlow.ConnectionLost(exception);
        }
        else if (ReaderOf(fd) is { } reader)
        {
            if (exception is null)
            {
                reader.FeedEof();
            }
            else
            {
                reader.SetException(exception);
            }
        }

        _openPipes.Remove(fd);
        MaybeCloseTransport();
    }

    public override void ProcessExited()
    {
        _exited = true;
        MaybeCloseTransport();
    }

    public override void PauseWriting() => _stdinFlow.PauseWriting();

    public override void ResumeWriting() => _stdinFlow.ResumeWriting();

    public override string ToString() => $"<SubprocessStreamProtocol loop={_loop}>";

    private AsyncStreamReader? ReaderOf(int fd) => fd switch
    {
        1 => Stdout,
        2 => Stderr,
        _ => null,
    };

    private void MaybeCloseTransport()
    {
        if (_exited && _openPipes.Count == 0)
        {
            _transport?.Close();
        }
    }
}
