using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using ImageRetrieval.ModelTools.Onnx;

namespace ImageRetrieval.ModelTools;

/// <summary>
/// Wraps the ImageNet ResNet-18 of the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 (an
/// old CNTK export: input Input247 [1,3,224,224] as BGR 0-255 minus a mean image, output
/// Pooling395_Output_0 [1,512,1,1], opset 8) into the Hugging Face ONNX layout the service loads:
/// <c>pixel_values</c> [batch,3,224,224] as RGB in 0-1 (what the processor writes with rescale 1/255,
/// mean 0, std 1), out <c>last_hidden_state</c> [batch,1,512] (so the default Cls pooling takes the
/// pooled feature) and <c>pooler_output</c> [batch,512].
/// </summary>
internal static class ResNet18Layout
{
    /// <summary>Bumped whenever the built graph changes, so caches keyed on it are rebuilt.</summary>
    public const int BuilderVersion = 2;

    public const int Dimension = 512;
    private const string ModelFile = "tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx";
    private const string PreprocessFile = "tools/DnnImageModels/ResNetPrepOnnx/ResNetPreprocess.onnx";
    private const string OriginalInput = "Input247";
    private const string OriginalOutput = "Pooling395_Output_0";
    private const int Opset = 13;

    public static string PackageVersion => Metadata("ResNet18PackageVersion") ?? "0.23.1";

    /// <summary>The restored package: NUGET_PACKAGES, else the package root this tool was built against, else ~/.nuget/packages.</summary>
    public static string FindPackage()
    {
        var roots = new[]
        {
            Environment.GetEnvironmentVariable("NUGET_PACKAGES"),
            Metadata("NuGetPackageRoot"),
            Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
        };
        foreach (var root in roots.Where(r => !string.IsNullOrEmpty(r)))
        {
            var dir = Path.Combine(root!, "microsoft.ml.dnnimagefeaturizer.resnet18", PackageVersion);
            if (File.Exists(Path.Combine(dir, ModelFile)))
            {
                return dir;
            }
        }

        throw new FileNotFoundException(
            $"The NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 {PackageVersion} is not restored; " +
            "`dotnet restore tools/ImageRetrieval.ModelTools` fetches it (looked in: " + string.Join(", ", roots.Where(r => !string.IsNullOrEmpty(r))) + ").");
    }

    /// <summary>Writes onnx/model.onnx, config.json, preprocessor_config.json, LICENSE and README.md into <paramref name="outputDirectory"/>.</summary>
    public static string Build(string packageDirectory, string outputDirectory)
    {
        var model = OnnxGraph.Load(Path.Combine(packageDirectory, ModelFile));
        var prep = OnnxGraph.Load(Path.Combine(packageDirectory, PreprocessFile));
        var meanImage = prep.Graph.Initializer.Single(i => i.Name == "MeanImage");
        var graph = model.Graph;

        var folded = FoldBatchNorms(graph);

        // In front: 0-1 RGB -> 0-255, RGB -> BGR (channel order 2,1,0), minus the mean image the
        // package's own preprocessing graph subtracts; the result takes the original input's name.
        var input = graph.Input.Single(i => i.Name == OriginalInput);
        graph.Input.Remove(input);
        graph.Input.Add(OnnxGraph.FloatValue("pixel_values", "batch", 3, 224, 224));
        meanImage.Name = "mean_image_bgr";
        graph.Initializer.Add(meanImage);
        graph.Initializer.Add(OnnxGraph.Tensor("scale_255", [], [255f]));
        graph.Initializer.Add(OnnxGraph.Tensor("rgb_to_bgr", [3], [2L, 1L, 0L]));
        graph.Initializer.Add(OnnxGraph.Tensor("token_axis", [1], [1L]));
        var head = new[]
        {
            OnnxGraph.Node("Mul", "to_0_255", ["pixel_values", "scale_255"], ["pixels_0_255"]),
            OnnxGraph.Node("Gather", "rgb_to_bgr", ["pixels_0_255", "rgb_to_bgr"], ["pixels_bgr"], OnnxGraph.Int("axis", 1)),
            OnnxGraph.Node("Sub", "minus_mean_image", ["pixels_bgr", "mean_image_bgr"], [OriginalInput]),
        };
        for (var i = head.Length - 1; i >= 0; i--)
        {
            graph.Node.Insert(0, head[i]);
        }

        // Behind: [b,512,1,1] -> pooler_output [b,512] -> last_hidden_state [b,1,512].
        graph.Node.Add(OnnxGraph.Node("Flatten", "flatten_pool", [OriginalOutput], ["pooler_output"], OnnxGraph.Int("axis", 1)));
        graph.Node.Add(OnnxGraph.Node("Unsqueeze", "as_one_token", ["pooler_output", "token_axis"], ["last_hidden_state"]));
        graph.Output.Clear();
        graph.Output.Add(OnnxGraph.FloatValue("last_hidden_state", "batch", 1, Dimension));
        graph.Output.Add(OnnxGraph.FloatValue("pooler_output", "batch", Dimension));

        // The old shapes all say batch 1; ONNX Runtime infers the rest.
        graph.ValueInfo.Clear();
        foreach (var node in graph.Node.Where(n => n.OpType == "BatchNormalization"))
        {
            // 'spatial' (BatchNormalization-7) is gone from opset 9 on; 1, what it was here, is the new behaviour.
            if (OnnxGraph.Find(node, "spatial") is { } spatial)
            {
                node.Attribute.Remove(spatial);
            }
        }

        model.OpsetImport.Clear();
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        model.IrVersion = 7;
        model.ProducerName = "ImageRetrieval.ModelTools";
        model.ProducerVersion = BuilderVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);
        graph.Name = "resnet18";
        model.DocString = $"ImageNet ResNet-18 from the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 {PackageVersion} (MIT), " +
            $"wrapped to pixel_values (RGB 0-1) -> last_hidden_state [b,1,512] / pooler_output [b,512]; {folded} BatchNormalizations folded into their Convs.";
        OnnxGraph.PruneInitializers(graph);

        var onnxPath = Path.Combine(outputDirectory, "onnx", "model.onnx");
        OnnxGraph.Save(model, onnxPath);
        WriteConfigs(outputDirectory);
        var license = Path.Combine(packageDirectory, "LICENSE");
        if (File.Exists(license))
        {
            File.Copy(license, Path.Combine(outputDirectory, "LICENSE"), overwrite: true);
        }

        File.WriteAllText(Path.Combine(outputDirectory, "README.md"), $"""
            # resnet18 (ImageNet, 512-d)

            Built by `dotnet run --project tools/ImageRetrieval.ModelTools -- resnet18 DIR` from the NuGet package
            Microsoft.ML.DnnImageFeaturizer.ResNet18 {PackageVersion} (MIT, see LICENSE). `onnx/model.onnx`: pixel_values
            [batch,3,224,224] RGB in 0-1 -> x255, RGB->BGR, minus the package's mean image -> ResNet-18 -> global
            average pool -> last_hidden_state [batch,1,512] and pooler_output [batch,512]. `onnx/model_quantized.onnx`
            (when present): int8, by default static QDQ (ONNX Runtime fuses it into QLinearConv / QLinearAdd:
            uint8 activations with scales calibrated on a few photos, 7-bit int8 weights per output channel);
            with `--int8 dynamic`, ConvInteger with activations quantized at run time.

            """);
        return onnxPath;
    }

    /// <summary>
    /// Folds each BatchNormalization into the Conv that feeds it (w' = w g/sqrt(v+e), b' = (b-m) g/sqrt(v+e) + beta),
    /// as ONNX Runtime does at load; done here so the int8 weights are those of the folded Conv.
    /// </summary>
    private static int FoldBatchNorms(GraphProto graph)
    {
        var initializers = graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        var producers = graph.Node.SelectMany(n => n.Output.Select(o => (o, n))).ToDictionary(p => p.o, p => p.n, StringComparer.Ordinal);
        var consumers = graph.Node.SelectMany(n => n.Input).GroupBy(i => i, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var removed = new List<NodeProto>();
        foreach (var bn in graph.Node.Where(n => n.OpType == "BatchNormalization").ToList())
        {
            if (!producers.TryGetValue(bn.Input[0], out var conv) || conv.OpType != "Conv" || consumers[bn.Input[0]] != 1
                || !initializers.TryGetValue(conv.Input[1], out var weightTensor) || bn.Input.Skip(1).Any(i => !initializers.ContainsKey(i)))
            {
                continue;
            }

            var w = OnnxGraph.Floats(weightTensor);
            var outChannels = (int)weightTensor.Dims[0];
            var perChannel = w.Length / outChannels;
            var bias = conv.Input.Count > 2 ? OnnxGraph.Floats(initializers[conv.Input[2]]) : new float[outChannels];
            var (gamma, beta, mean, variance) = (OnnxGraph.Floats(initializers[bn.Input[1]]), OnnxGraph.Floats(initializers[bn.Input[2]]),
                OnnxGraph.Floats(initializers[bn.Input[3]]), OnnxGraph.Floats(initializers[bn.Input[4]]));
            var epsilon = OnnxGraph.FloatAttribute(bn, "epsilon", 1e-5f);
            var newWeights = new float[w.Length];
            var newBias = new float[outChannels];
            for (var o = 0; o < outChannels; o++)
            {
                var factor = (float)(gamma[o] / Math.Sqrt(variance[o] + (double)epsilon));
                for (var k = 0; k < perChannel; k++)
                {
                    newWeights[o * perChannel + k] = w[o * perChannel + k] * factor;
                }

                newBias[o] = (bias[o] - mean[o]) * factor + beta[o];
            }

            var weightName = conv.Name + "_W";
            var biasName = conv.Name + "_B";
            graph.Initializer.Add(OnnxGraph.Tensor(weightName, [.. weightTensor.Dims], newWeights));
            graph.Initializer.Add(OnnxGraph.Tensor(biasName, [outChannels], newBias));
            var inputs = new[] { conv.Input[0], weightName, biasName };
            conv.Input.Clear();
            conv.Input.AddRange(inputs);
            conv.Output[0] = bn.Output[0];
            removed.Add(bn);
        }

        foreach (var bn in removed)
        {
            graph.Node.Remove(bn);
        }

        return removed.Count;
    }

    private static void WriteConfigs(string outputDirectory)
    {
        var indented = new JsonSerializerOptions { WriteIndented = true };
        var config = new JsonObject
        {
            ["model_type"] = "resnet",
            ["architectures"] = new JsonArray("ResNetModel"),
            ["num_channels"] = 3,
            ["hidden_size"] = Dimension,
            ["hidden_sizes"] = new JsonArray(64, 128, 256, 512),
            ["depths"] = new JsonArray(2, 2, 2, 2),
            ["layer_type"] = "basic",
            ["image_size"] = 224,
            ["_source"] = $"NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18 {PackageVersion} (MIT), wrapped by tools/ImageRetrieval.ModelTools v{BuilderVersion}",
        };

        // torchvision's ImageNet evaluation: bilinear resize of the shortest edge to 256, centre crop 224.
        // The graph itself scales back to 0-255, so rescale 1/255 with mean 0 and std 1 is exact.
        var preprocessor = new JsonObject
        {
            ["image_processor_type"] = "BitImageProcessor",
            ["do_resize"] = true,
            ["size"] = new JsonObject { ["shortest_edge"] = 256 },
            ["resample"] = 2,
            ["do_center_crop"] = true,
            ["crop_size"] = new JsonObject { ["height"] = 224, ["width"] = 224 },
            ["do_rescale"] = true,
            ["rescale_factor"] = 1.0 / 255.0,
            ["do_normalize"] = true,
            ["image_mean"] = new JsonArray(0.0, 0.0, 0.0),
            ["image_std"] = new JsonArray(1.0, 1.0, 1.0),
        };
        File.WriteAllText(Path.Combine(outputDirectory, "config.json"), config.ToJsonString(indented) + "\n");
        File.WriteAllText(Path.Combine(outputDirectory, "preprocessor_config.json"), preprocessor.ToJsonString(indented) + "\n");
    }

    private static string? Metadata(string key) => typeof(ResNet18Layout).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .FirstOrDefault(a => a.Key == key)?.Value is { Length: > 0 } value ? value : null;
}
