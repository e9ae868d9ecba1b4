using ImageRetrieval.Bench;

// Bench <preprocess|embed|e2e|search> [--option value ...]; see bench/README.md.
if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine("""
        usage: Bench <command> [options]
          preprocess [--photos DIR] [--model DIR] [--seconds 3]
          embed      [--model DIR[,DIR]|FILE.onnx] [--batch 1,4,8] [--threads 2] [--seconds 8] [--warmup 2] [--label NAME]
          e2e        [--model DIR] [--batch 8] [--threads 2] [--photos DIR] [--seconds 8] [--warmup 2]
          quant      [--model DIR|FP32DIR:INT8DIR[,...]] [--batch 1,8] [--threads 2] [--seconds 5] [--warmup 2] [--rounds 2]
          text       [--model bench/models/clip-b32] [--rows 100000] [--queries 100] [--threads 2] [--seconds 5]
          accuracy   [--model DIR] [--photos DIR] [--batch 1,8] [--threads 2] [--seconds 6] [--out FILE]  (default: the ResNet-18 layout, built on first use)
          service    [--model DIR] [--precision fp32,int8] [--threads 2] [--clients 4] [--files 2] [--seconds 30] [--warmup 10] [--searches 40]
                     [--mixed-model tests/fixtures/models/vit-tiny|none] [--mixed-seconds 30] [--mixed-ingest-clients 3] [--mixed-search-clients 3] [--anchor TORCH_OUTPUT] [--host HOST.dll] [--set K=V;K=V]
          startup    [--host A.dll,B.dll] [--model tests/fixtures/models/vit-tiny] [--precision fp32|int8] [--rounds 3] [--searches 20] [--set K=V;K=V]  (a fresh Host's time to ready and first requests)
          parity     [--model tests/fixtures/models/vit-tiny] [--reference tests/fixtures/parity/vit-tiny.json] [--photos DIR]
          search     [--rows 100000] [--dim 768] [--queries 200] [--topk 10] [--upsert-batch 1000] [--modes exact,quantized,int4] [--metadata catalog|none] [--data random|clustered]
          compact    [--rows 100000] [--dim 768] [--dead 0.5] [--phase all|fill|compact|verify] [--dir DIR] [--close true|false]  (the Local store's segment compaction, queries and a write beside it)
          scan       [--rows 1000000] [--dim 768] [--queries 50] [--rounds 2] [--first-pass 0,2000,4000,8000] [--bare-every 5] [--serial false]  (the Local index's 4-bit scan alone, in-process; 0 = default)
        common:      [--results bench/results]  (appends to latest.jsonl and latest.md there)
        """);
    return args.Length == 0 ? 2 : 0;
}

var options = BenchOptions.Parse(args.AsSpan(1));
if (args[0] == "search-serve")
{
    // The child side of `search`: open an existing store, time queries, no report of its own.
    return await SearchBench.ServeAsync(options);
}

var report = new Report(args[0], "Bench " + string.Join(' ', args), options.Get("results", Path.Combine("bench", "results")));
try
{
    switch (args[0])
    {
        case "preprocess":
            PreprocessBench.Run(options, report);
            break;
        case "embed":
            EmbedBench.Run(options, report);
            break;
        case "e2e":
            EndToEndBench.Run(options, report);
            break;
        case "quant":
            QuantizedBench.Run(options, report);
            break;
        case "text":
            await TextBench.RunAsync(options, report);
            break;
        case "accuracy":
            AccuracyBench.Run(options, report);
            break;
        case "parity":
            ParityBench.Run(options, report);
            break;
        case "service":
            await ServiceBench.RunAsync(options, report);
            break;
        case "startup":
            await ServiceBench.StartupAsync(options, report);
            break;
        case "search":
            await SearchBench.RunAsync(options, report);
            break;
        case "scan":
            ScanBench.Run(options, report);
            break;
        case "compact":
            await CompactBench.RunAsync(options, report);
            break;
        default:
            Console.Error.WriteLine($"unknown command '{args[0]}'; try --help");
            return 2;
    }
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return 2;
}

report.Flush();
return 0;
