using Aio.Net;

namespace Aio.Tests.Net;

/// <summary>A read transport that records pause and resume calls.</summary>
internal sealed class FakeReadTransport : IReadTransport
{
    public bool CanPause { get; init; } = true;

    public bool Paused { get; private set; }

    public int Pauses { get; private set; }

    public int Resumes { get; private set; }

    public int PauseAttempts { get; private set; }

    public bool IsReading => !Paused;

    public bool IsClosing => false;

    public object? GetExtraInfo(string name) => null;

    public void Close()
    {
    }

    public void PauseReading()
    {
        PauseAttempts++;
        if (!CanPause)
        {
            throw new NotSupportedException("cannot pause");
        }

        Paused = true;
        Pauses++;
    }

    public void ResumeReading()
    {
        Paused = false;
        Resumes++;
    }
}
