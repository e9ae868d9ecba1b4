namespace ImageRetrieval.ModelTools;

/// <summary>ModelTools resnet18 OUTDIR [--no-int8] | quantize-conv SRC [DST]; see the README's Models section.</summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length < 2 || args[0] is "-h" or "--help")
        {
            Console.WriteLine("""
                usage: ImageRetrieval.ModelTools <command> ...
                  resnet18 OUTDIR [--no-int8]   the ImageNet ResNet-18 of the restored NuGet package as a Hugging Face
                                                layout (onnx/model.onnx, onnx/model_quantized.onnx, config.json,
                                                preprocessor_config.json); point ImageRetrieval__Embedding__Model at OUTDIR
                  quantize-conv SRC [DST]       int8 ConvInteger copy of SRC's model as DST/onnx/model_quantized.onnx
                """);
            return args.Length == 0 ? 2 : 0;
        }

        try
        {
            switch (args[0])
            {
                case "resnet18":
                    var package = ResNet18Layout.FindPackage();
                    var fp32 = ResNet18Layout.Build(package, args[1]);
                    Console.WriteLine($"wrote {fp32} ({new FileInfo(fp32).Length / 1e6:0.0} MB) from {package}");
                    if (!args.Contains("--no-int8"))
                    {
                        var (int8, result) = ConvQuantizer.QuantizeDirectory(args[1]);
                        Console.WriteLine($"wrote {int8} ({new FileInfo(int8).Length / 1e6:0.0} MB): {result.Quantized} Convs int8, {result.Kept} kept fp32");
                    }

                    Console.WriteLine($"run the service on it: ImageRetrieval__Embedding__Model={args[1]} dotnet run --project src/Host/ImageRetrieval.Host");
                    return 0;
                case "quantize-conv":
                    var (path, r) = ConvQuantizer.QuantizeDirectory(args[1], args.Length > 2 ? args[2] : null);
                    Console.WriteLine($"wrote {path} ({new FileInfo(path).Length / 1e6:0.0} MB): {r.Quantized} Convs int8, {r.Kept} kept fp32");
                    return 0;
                default:
                    Console.Error.WriteLine($"unknown command '{args[0]}'; try --help");
                    return 2;
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException or InvalidOperationException)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 1;
        }
    }
}
