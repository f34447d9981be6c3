// A child on the portable backend: System.Diagnostics.Process with redirected streams, its events
// posted into the loop (the pipes' read and write completions by the pipe transports, Exited here).
//
// Streams that Process cannot express. Process offers "redirect" or "inherit" per stream; the null
// device and stderr-into-stdout are not among its choices. On Unix the child is therefore started
// as `/bin/sh -c 'exec "$0" "$@" <redirections>' program args...`: the shell applies the
// redirections (</dev/null, >/dev/null, 2>/dev/null, 2>&1) and replaces itself with the program
// (same pid, no extra process), whose path was resolved beforehand. On Windows a Null stdin is
// redirected and closed at once (the child reads end of file), a Null stdout/stderr is redirected and
// drained; merging stderr into stdout is not offered there.
//
// Return codes. Process reports a child killed by signal N on Unix as 128 + N (it folds the wait
// status, as a shell's $? does), so on Unix 129..192 is reported as -(code - 128): the signal death
// it almost always is, as the epoll backend reports it exactly. A program that exits with such a
// code by itself is then misreported; that cannot be told apart through Process.
using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Aio.Processes;

/// <summary>A subprocess run by <see cref="Process"/>, with its events posted into the loop. Portable backend, loop thread only.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The Process is disposed when its exit is handled; the transport's Close is its end of life.")]
internal sealed class PortableSubprocessTransport : SubprocessTransport
{
    private static readonly Action<object?> ExitedCallback = static state => ((PortableSubprocessTransport)state!).OnProcessExited();

    private readonly Process _process;
    private bool _watching;
    private bool _exitPosted;

    public PortableSubprocessTransport(EventLoop loop, SubprocessProtocol protocol, SpawnRequest request)
        : base(loop, protocol)
    {
        SubprocessOptions options = request.Options;
        if (OperatingSystem.IsWindows() && options.Stderr == SubprocessStdio.Stdout)
        {
            throw new PlatformNotSupportedException("Merging stderr into stdout (SubprocessStdio.Stdout) needs a Unix shell; on Windows pipe stderr separately.");
        }

        ProcessStartInfo info = StartInfo(request);
        _process = new Process { StartInfo = info, EnableRaisingEvents = true };
        _process.Exited += (_, _) => _ = Loop.TryCallSoonThreadSafe(ExitedCallback, this);
        try
        {
            _ = _process.Start();
        }
        catch (Win32Exception exception)
        {
            _process.Dispose();
            throw PidfdSubprocessTransport.StartFailure(request.Argv[0], exception.NativeErrorCode);
        }

        Pid = _process.Id;
        Stream? stdin = info.RedirectStandardInput ? _process.StandardInput.BaseStream : null;
        Stream? stdout = info.RedirectStandardOutput ? _process.StandardOutput.BaseStream : null;
        Stream? stderr = info.RedirectStandardError ? _process.StandardError.BaseStream : null;
        if (options.Stdin == SubprocessStdio.Null && stdin is not null)
        {
            stdin.Dispose();
            stdin = null;
        }

        if (options.Stdout == SubprocessStdio.Null && stdout is not null)
        {
            _ = DrainAsync(stdout);
            stdout = null;
        }

        if (options.Stderr == SubprocessStdio.Null && stderr is not null)
        {
            _ = DrainAsync(stderr);
            stderr = null;
        }

        Begin(
            stdin is null ? null : new StreamWritePipeTransport(this, stdin),
            stdout is null ? null : new StreamReadPipeTransport(this, 1, stdout),
            stderr is null ? null : new StreamReadPipeTransport(this, 2, stderr));
    }

    /// <inheritdoc/>
    /// <remarks>"subprocess": the <see cref="Process"/> (asyncio returns its Popen object).</remarks>
    public override object? GetExtraInfo(string name) => name == "subprocess" ? _process : null;

    protected override void StartExitWatch()
    {
        _watching = true;
        if (_exitPosted)
        {
            OnProcessExited();
        }
    }

    protected override void SignalCore(int signal)
    {
        if (_process.HasExited)
        {
            return;
        }

        if (OperatingSystem.IsWindows())
        {
            if (signal is not (9 or 15))
            {
                throw new ArgumentException($"Signal {signal} cannot be sent on Windows: use Terminate or Kill.", nameof(signal));
            }

            _process.Kill();
            return;
        }

        if (ProcessNative.Kill(Pid, signal) < 0)
        {
            int error = Marshal.GetLastPInvokeError();
            if (error != ProcessNative.ESrch)
            {
                throw new ArgumentException($"Cannot send signal {signal} to pid {Pid}: {Marshal.GetPInvokeErrorMessage(error)}.", nameof(signal));
            }
        }
    }

    private static ProcessStartInfo StartInfo(SpawnRequest request)
    {
        SubprocessOptions options = request.Options;
        var info = new ProcessStartInfo { UseShellExecute = false };
        string redirections = OperatingSystem.IsWindows() ? "" : Redirections(options);
        if (redirections.Length > 0)
        {
            info.FileName = "/bin/sh";
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add("exec \"$0\" \"$@\"" + redirections);
            info.ArgumentList.Add(request.Path);
        }
        else
        {
            info.FileName = request.Path;
        }

        foreach (string argument in request.Argv.AsSpan(1))
        {
            info.ArgumentList.Add(argument);
        }

        bool windows = OperatingSystem.IsWindows();
        info.RedirectStandardInput = options.Stdin == SubprocessStdio.Pipe || (windows && options.Stdin == SubprocessStdio.Null);
        info.RedirectStandardOutput = options.Stdout == SubprocessStdio.Pipe || (windows && options.Stdout == SubprocessStdio.Null);
        info.RedirectStandardError = options.Stderr == SubprocessStdio.Pipe || (windows && options.Stderr == SubprocessStdio.Null);
        if (request.WorkingDirectory is { } directory)
        {
            info.WorkingDirectory = directory;
        }

        info.Environment.Clear();
        foreach ((string name, string value) in request.Environment)
        {
            info.Environment[name] = value;
        }

        return info;
    }

    private static string Redirections(SubprocessOptions options)
    {
        string text = "";
        if (options.Stdin == SubprocessStdio.Null)
        {
            text += " </dev/null";
        }

        if (options.Stdout == SubprocessStdio.Null)
        {
            text += " >/dev/null";
        }

        text += options.Stderr switch
        {
            SubprocessStdio.Null => " 2>/dev/null",
            SubprocessStdio.Stdout => " 2>&1",
            _ => "",
        };
        return text;
    }

    private static async Task DrainAsync(Stream stream)
    {
        await using (stream.ConfigureAwait(false))
        {
            try
            {
                await stream.CopyToAsync(Stream.Null).ConfigureAwait(false);
            }
            catch (IOException)
            {
                // The child is gone: nothing left to discard.
            }
        }
    }

    private void OnProcessExited()
    {
        _exitPosted = true;
        if (!_watching || ReturnCode is not null)
        {
            return;
        }

        int code = _process.ExitCode;
        _process.Dispose();
        OnExited(!OperatingSystem.IsWindows() && code is > 128 and <= 128 + 64 ? -(code - 128) : code);
    }
}
