// Python's repr() of the values the seed's echo programs print with %r: strings (quoted and
// escaped as CPython does) and socket addresses (the tuples socket.getsockname()/getpeername()
// return), so the C# samples print exactly the lines the Python originals print.
using System.Globalization;
using System.Net;
using System.Text;

namespace Aio.Samples;

/// <summary>Python's <c>repr()</c> for strings and socket addresses.</summary>
public static class PythonRepr
{
    /// <summary>
    /// repr(str): single quotes, or double quotes when the text holds a single quote and no double
    /// quote; backslash, the chosen quote, \t \n \r and unprintable characters escaped as CPython does.
    /// </summary>
    public static string Of(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        char quote = text.Contains('\'', StringComparison.Ordinal) && !text.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        var repr = new StringBuilder(text.Length + 2).Append(quote);
        foreach (Rune rune in text.EnumerateRunes())
        {
            int value = rune.Value;
            if (value == quote || value == '\\')
            {
                repr.Append('\\').Append((char)value);
            }
            else if (value == '\t')
            {
                repr.Append("\\t");
            }
            else if (value == '\n')
            {
                repr.Append("\\n");
            }
            else if (value == '\r')
            {
                repr.Append("\\r");
            }
            else if (IsPrintable(rune))
            {
                repr.Append(rune.ToString());
            }
            else if (value <= 0xff)
            {
                repr.Append(CultureInfo.InvariantCulture, $"\\x{value:x2}");
            }
            else if (value <= 0xffff)
            {
                repr.Append(CultureInfo.InvariantCulture, $"\\u{value:x4}");
            }
            else
            {
                repr.Append(CultureInfo.InvariantCulture, $"\\U{value:x8}");
            }
        }

        return repr.Append(quote).ToString();
    }

    /// <summary>
    /// repr of a socket address tuple: <c>('127.0.0.1', 8888)</c> for IPv4,
    /// <c>('::1', 8888, 0, 0)</c> (flow info, scope id) for IPv6.
    /// </summary>
    public static string Of(EndPoint endPoint) => endPoint switch
    {
        IPEndPoint { AddressFamily: System.Net.Sockets.AddressFamily.InterNetworkV6 } v6 =>
            string.Create(CultureInfo.InvariantCulture, $"({Of(WithoutScope(v6.Address))}, {v6.Port}, 0, {v6.Address.ScopeId})"),
        IPEndPoint v4 => string.Create(CultureInfo.InvariantCulture, $"({Of(v4.Address.ToString())}, {v4.Port})"),
        _ => Of(endPoint?.ToString() ?? "None"),
    };

    private static string WithoutScope(IPAddress address)
    {
        string text = address.ToString();
        int percent = text.IndexOf('%', StringComparison.Ordinal);
        return percent < 0 ? text : text[..percent];
    }

    /// <summary>str.isprintable() for one character: not in categories Cc, Cf, Cs, Co, Cn, Zl, Zp, Zs (except the space).</summary>
    private static bool IsPrintable(Rune rune)
    {
        if (rune.Value == ' ')
        {
            return true;
        }

        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
                or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
                or UnicodeCategory.SpaceSeparator => false,
            _ => true,
        };
    }
}
