namespace ImageRetrieval.IntegrationTests.Support;

/// <summary>
/// A test class of the <see cref="IngestedPhotos"/> collection: it shares the one service with every
/// fixture photo ingested (xunit reads the collection from this base class).
/// </summary>
[Collection(IngestedPhotos.Collection)]
public abstract class IngestedPhotosTests(IngestedPhotos photos)
{
    protected IngestedPhotos Photos => photos;

    protected HttpClient Client => photos.Client;
}
