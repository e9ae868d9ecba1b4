namespace ImageRetrieval.SharedKernel;

public static class HealthTags
{
    /// <summary>Checks with this tag decide <c>/healthz/ready</c>: the model is loaded and every store answers.</summary>
    public const string Ready = "ready";
}
