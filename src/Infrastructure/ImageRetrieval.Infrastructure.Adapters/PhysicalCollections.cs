namespace ImageRetrieval.Infrastructure.Adapters;

/// <summary>
/// Names of the physical collections behind a logical one: the logical name itself (what every store
/// created before re-indexing switched collections, and still the first one it creates where it can)
/// and <c>&lt;name&gt;--&lt;8 hex&gt;</c> for each collection a re-index builds. Collection names may not
/// contain <c>--</c>, so another logical collection never looks like one of these.
/// </summary>
public static class PhysicalCollections
{
    public const string Separator = "--";

    private static readonly System.Buffers.SearchValues<char> LowerHex = System.Buffers.SearchValues.Create("0123456789abcdef");

    /// <summary>A new physical name for <paramref name="logical"/>, at most <paramref name="maxLength"/> characters (the base is shortened to fit).</summary>
    public static string NewName(string logical, int maxLength = int.MaxValue)
    {
        var suffix = Separator + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4));
        var length = Math.Min(logical.Length, maxLength - suffix.Length);
        return logical[..length].TrimEnd('-') + suffix;
    }

    /// <summary>Whether <paramref name="physical"/> is one of the collections of <paramref name="logical"/> (built with <paramref name="maxLength"/>).</summary>
    public static bool BelongsTo(string physical, string logical, int maxLength = int.MaxValue)
    {
        if (physical == logical)
        {
            return true;
        }

        var suffixLength = Separator.Length + 8;
        var prefix = logical[..Math.Min(logical.Length, maxLength - suffixLength)].TrimEnd('-') + Separator;
        return physical.Length == prefix.Length + 8 && physical.StartsWith(prefix, StringComparison.Ordinal)
            && !physical.AsSpan(prefix.Length).ContainsAnyExcept(LowerHex);
    }

    /// <summary>What a store bound to one physical collection answers to the staging calls.</summary>
    public static NotSupportedException NotOnBoundStore(string name) =>
        new($"This store is bound to the physical collection '{name}'; staging and promotion go through the store of the logical collection.");
}
