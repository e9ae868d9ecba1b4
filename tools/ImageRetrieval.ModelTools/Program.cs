namespace ImageRetrieval.ModelTools;

/// <summary>The model tools' command line; see the README's Models section.</summary>
internal static class Program
{
    private const string Usage = """
        usage: ImageRetrieval.ModelTools <command> ...
          resnet18 OUTDIR [--int8 static|dynamic|none] [--calibrate DIR]
              the ImageNet ResNet-18 of the restored NuGet package as a Hugging Face layout (onnx/model.onnx,
              onnx/model_quantized.onnx, config.json, preprocessor_config.json); then point
              ImageRetrieval__Embedding__Model at OUTDIR
          quantize-conv SRC [DST] [--int8 static|dynamic] [--calibrate DIR]
              int8 copy of SRC's model as DST/onnx/model_quantized.onnx: static = QDQ for QLinearConv, calibrated
              on 10 photos of --calibrate (default tests/fixtures/photos); dynamic = ConvInteger, no calibration
        """;

    public static int Main(string[] args)
    {
        if (args.Length < 2 || args[0] is "-h" or "--help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }

        var positional = new List<string>();
        var (int8, calibrate) = ("static", Path.Combine("tests", "fixtures", "photos"));
        for (var i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--int8" when i + 1 < args.Length:
                    int8 = args[++i];
                    break;
                case "--calibrate" when i + 1 < args.Length:
                    calibrate = args[++i];
                    break;
                default:
                    positional.Add(args[i]);
                    break;
            }
        }

        if (int8 is not ("static" or "dynamic" or "none") || positional.Count is < 1 or > 2 || (args[0] == "resnet18" && positional.Count != 1))
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        try
        {
            var source = positional[0];
            switch (args[0])
            {
                case "resnet18":
                    var package = ResNet18Layout.FindPackage();
                    var fp32 = ResNet18Layout.Build(package, source);
                    Console.WriteLine($"wrote {fp32} ({new FileInfo(fp32).Length / 1e6:0.0} MB) from {package}");
                    break;
                case "quantize-conv":
                    break;
                default:
                    Console.Error.WriteLine($"unknown command '{args[0]}'; try --help");
                    return 2;
            }

            var destination = positional.Count > 1 ? positional[1] : null;
            if (int8 == "static")
            {
                var (path, result) = StaticQuantizer.QuantizeDirectory(source, calibrate, destination);
                Console.WriteLine($"wrote {path} ({new FileInfo(path).Length / 1e6:0.0} MB): static int8, {result.Convs} Convs and {result.Adds} Adds, calibrated on {result.CalibrationImages} photos of {calibrate}");
            }
            else if (int8 == "dynamic")
            {
                var (path, result) = ConvQuantizer.QuantizeDirectory(source, destination);
                Console.WriteLine($"wrote {path} ({new FileInfo(path).Length / 1e6:0.0} MB): {result.Quantized} Convs as ConvInteger, {result.Kept} kept fp32");
            }

            if (args[0] == "resnet18")
            {
                Console.WriteLine($"run the service on it: ImageRetrieval__Embedding__Model={source} dotnet run --project src/Host/ImageRetrieval.Host");
            }

            return 0;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException or InvalidOperationException or NetVips.VipsException)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 1;
        }
    }
}
