using System.Numerics.Tensors;
using ImageRetrieval.Embedding.Inference;
using ImageRetrieval.Embedding.Preprocessing;
using ImageRetrieval.Infrastructure.Onnx;
using ImageRetrieval.ModelTools;
using ImageRetrieval.Tests;
using ImageRetrieval.UnitTests.Embedding;
using Microsoft.ML.OnnxRuntime;

namespace ImageRetrieval.UnitTests.Tools.ModelTools;

/// <summary>
/// The ResNet-18 layout that tools/ImageRetrieval.ModelTools builds from the NuGet package: the same
/// features as the package's own two graphs, any batch size, and an int8 variant ONNX Runtime runs.
/// </summary>
public sealed class ResNet18LayoutTests
{
    private static readonly string[] SamplePhotos = ["opencv-leuvenA.jpg", "opencv-baboon.jpg", "opencv-sudoku.png", "matplotlib-grace_hopper.jpg"];
    private static string ModelDirectory => ModelCache.ResNet18(Path.Combine(RepositoryPaths.RepoRoot, ".cache", "models"), RepositoryPaths.Photos);

    [Fact]
    public void Given_photos_When_embedded_by_the_wrapped_model_Then_the_features_equal_the_packages_own_preprocess_and_resnet_graphs()
    {
        using var model = Load(quantized: false);
        var package = Path.Combine(ResNet18Layout.FindPackage(), "tools", "DnnImageModels");
        using var prep = new InferenceSession(Path.Combine(package, "ResNetPrepOnnx", "ResNetPreprocess.onnx"));
        using var resnet = new InferenceSession(Path.Combine(package, "ResNet18Onnx", "ResNet18.onnx"));
        foreach (var photo in SamplePhotos)
        {
            var pixels = Pixels(model, photo);
            var wrapped = model.RunBatch(pixels, 1)[0];

            // The package's pipeline takes RGB 0-255 and does the BGR swap and mean image itself.
            var rgb255 = pixels.Select(p => p * 255f).ToArray();
            using var rgbValue = OrtValue.CreateTensorValueFromMemory(rgb255, [1, 3, 224, 224]);
            using var bgr = prep.Run(new RunOptions(), ["OriginalInput"], [rgbValue], ["PreprocessedInput"]);
            using var features = resnet.Run(new RunOptions(), ["Input247"], [bgr[0]], ["Pooling395_Output_0"]);
            var expected = features[0].GetTensorDataAsSpan<float>().ToArray();

            Assert.Equal(ResNet18Layout.Dimension, wrapped.Length);
            var cosine = TensorPrimitives.CosineSimilarity(wrapped, expected);
            var difference = new float[expected.Length];
            TensorPrimitives.Subtract(wrapped, expected, difference);
            var worst = TensorPrimitives.MaxMagnitude(difference);
            Assert.True(cosine > 0.99999, $"{photo}: cosine {cosine}");
            Assert.True(Math.Abs(worst) < 1e-3 * TensorPrimitives.MaxMagnitude(expected), $"{photo}: max abs diff {worst} against max {TensorPrimitives.MaxMagnitude(expected)}");
        }
    }

    [Fact]
    public void Given_a_batch_of_four_When_embedded_Then_each_row_equals_that_photo_embedded_alone()
    {
        using var model = Load(quantized: false);
        var batch = SamplePhotos.SelectMany(p => Pixels(model, p)).ToArray();
        var together = model.RunBatch(batch, SamplePhotos.Length);
        for (var i = 0; i < SamplePhotos.Length; i++)
        {
            var alone = model.RunBatch(batch[(i * model.Writer.Length)..((i + 1) * model.Writer.Length)], 1)[0];
            Assert.True(TensorPrimitives.CosineSimilarity(alone, together[i]) > 0.99999, SamplePhotos[i]);
        }
    }

    [Fact]
    public void Given_the_int8_variant_When_run_by_onnx_runtime_Then_it_keeps_each_photos_features_and_differs_from_fp32()
    {
        using var fp32 = Load(quantized: false);
        using var int8 = Load(quantized: true);
        Assert.Equal(fp32.Dimension, int8.Dimension);
        foreach (var photo in SamplePhotos)
        {
            var pixels = Pixels(fp32, photo);
            var (a, b) = (fp32.RunBatch(pixels, 1)[0], int8.RunBatch(pixels, 1)[0]);
            var cosine = TensorPrimitives.CosineSimilarity(a, b);
            Assert.True(cosine > 0.97, $"{photo}: int8 vs fp32 cosine {cosine}");
            Assert.True(cosine < 0.999999, $"{photo}: int8 gave exactly the fp32 result, so it did not run quantized");
        }
    }

    private static LoadedModel Load(bool quantized)
    {
        var files = ModelFiles.FromDirectory(ModelDirectory, "resnet18", quantized);
        return new LoadedModel(InferenceSessionFactory.Create(files.OnnxPath, 1),
            new PixelTensorWriter(PreprocessorConfig.Load(files.PreprocessorConfigPath)), PoolingMode.Cls, "resnet18", "test");
    }

    private static float[] Pixels(LoadedModel model, string photo)
    {
        var pixels = new float[model.Writer.Length];
        model.Writer.Write(TestDecoder.Default.Decode(File.ReadAllBytes(Path.Combine(RepositoryPaths.Photos, photo))), pixels);
        return pixels;
    }
}
