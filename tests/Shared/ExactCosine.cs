namespace ImageRetrieval.Tests;

/// <summary>Cosine similarity in double precision: what the provider fakes score with and what the contract suite expects a store's scores to be.</summary>
internal static class ExactCosine
{
    public static float Of(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }

        return (float)(dot / Math.Sqrt(na * nb));
    }
}
