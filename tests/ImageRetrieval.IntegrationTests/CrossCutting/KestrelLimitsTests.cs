using System.Net.Sockets;
using System.Text;

namespace ImageRetrieval.IntegrationTests.CrossCutting;

/// <summary>Connection-level limits, against the Host as a process (Kestrel on loopback; the test server has no connections).</summary>
public sealed class KestrelLimitsTests
{
    [Fact]
    public async Task Given_slow_headers_or_uploads_filling_the_buffer_room_Then_the_connection_is_cut_and_the_next_upload_gets_a_503_with_Retry_After()
    {
        using var temp = new TempDirectory("ir-kestrel-");
        var dataPath = temp.Path;
        using var service = await ServiceProcess.StartQuietAsync(dataPath, new Dictionary<string, string>
        {
            ["ImageRetrieval__Server__RequestHeadersTimeout"] = "00:00:02",
            ["ImageRetrieval__Limits__MaxRequestBytes"] = "1048576",
            ["ImageRetrieval__Server__MaxBufferedBodyBytes"] = "1048576",
            ["ImageRetrieval__Server__BufferWaitTimeout"] = "00:00:00.200",
        });

        // Slowloris: headers never finished. Kestrel closes the connection after RequestHeadersTimeout.
        using (var slowHeaders = new TcpClient())
        {
            await slowHeaders.ConnectAsync(IPAddress.Loopback, service.Port);
            var stream = slowHeaders.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /healthz/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "));
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var buffer = new byte[4096];
            using var giveUp = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            int read;
            try
            {
                while ((read = await stream.ReadAsync(buffer, giveUp.Token)) > 0)
                {
                    // A 408 may be written before the close; keep reading to the end.
                }
            }
            catch (IOException)
            {
                // Reset instead of close: also cut.
            }

            Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(20));
        }

        // An upload that declares 700 KiB and sends a little holds that room while it is read...
        using var slowUpload = new TcpClient();
        await slowUpload.ConnectAsync(IPAddress.Loopback, service.Port);
        var upload = slowUpload.GetStream();
        await upload.WriteAsync(Encoding.ASCII.GetBytes(
            "POST /api/v1/images HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 716800\r\n\r\n--x\r\n"));
        await Task.Delay(500);

        // ...so another 700 KiB upload does not fit in the 1 MiB room: 503 with Retry-After, unread.
        using var client = new HttpClient { BaseAddress = service.BaseAddress };
        using var body = new ByteArrayContent(new byte[700 * 1024]);
        body.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse("multipart/form-data; boundary=x");
        using var second = await client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), body);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, second.StatusCode);
        Assert.Equal("urn:image-retrieval:problem:uploads-busy", (await second.Content.ReadFromJsonAsync<JsonObject>())!["type"]!.GetValue<string>());
        Assert.NotNull(second.Headers.RetryAfter);

        // A small request still fits beside the held one.
        using var small = Multipart.Files("file", Paths.PhotoFiles[0]);
        using var search = await client.PostAsync(new Uri("/api/v1/search", UriKind.Relative), small);
        Assert.Equal(HttpStatusCode.OK, search.StatusCode);
    }
}
