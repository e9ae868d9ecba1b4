using System.Diagnostics;

namespace ImageRetrieval.ModelTools;

/// <summary>
/// Builds the ResNet-18 layout once into a cache folder (gitignored) and hands it to every caller
/// after that: the tests and the bench use it on first need, so a fresh clone needs nothing but a
/// restore. Safe across processes (test projects run in parallel): one builds under a lock file into
/// a temporary folder and renames it into place. The int8 file is the static (QDQ) one, calibrated
/// on <c>calibrationPhotos</c>.
/// </summary>
internal static class ModelCache
{
    public static string ResNet18(string cacheRoot, string calibrationPhotos, TimeSpan? wait = null)
    {
        var target = Path.Combine(cacheRoot, $"resnet18-{ResNet18Layout.PackageVersion}-v{ResNet18Layout.BuilderVersion}");
        if (IsComplete(target))
        {
            return target;
        }

        Directory.CreateDirectory(cacheRoot);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var gate = new FileStream(target + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                if (IsComplete(target))
                {
                    return target;
                }

                var temporary = $"{target}.tmp-{Environment.ProcessId}";
                if (Directory.Exists(temporary))
                {
                    Directory.Delete(temporary, recursive: true);
                }

                ResNet18Layout.Build(ResNet18Layout.FindPackage(), temporary);
                StaticQuantizer.QuantizeDirectory(temporary, calibrationPhotos);
                if (Directory.Exists(target))
                {
                    Directory.Delete(target, recursive: true);
                }

                Directory.Move(temporary, target);
                return target;
            }
            catch (IOException) when (deadline.Elapsed < (wait ?? TimeSpan.FromMinutes(5)) && !IsComplete(target))
            {
                // Another process holds the lock while it builds.
                Thread.Sleep(250);
            }
        }
    }

    private static bool IsComplete(string directory) =>
        File.Exists(Path.Combine(directory, "onnx", "model_quantized.onnx")) && File.Exists(Path.Combine(directory, "preprocessor_config.json"));
}
