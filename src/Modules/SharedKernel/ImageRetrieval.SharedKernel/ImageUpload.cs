namespace ImageRetrieval.SharedKernel;

/// <summary>Bytes of one uploaded image and the name the caller gave it.</summary>
public sealed record ImageUpload(string FileName, ReadOnlyMemory<byte> Content);
