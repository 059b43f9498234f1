using System.Net;
using System.Net.Sockets;
using Ferry.Server.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Ferry.Cli.Serving;

/// <summary>
/// Serves the <see cref="FerryMetrics.MeterName"/> instruments in the Prometheus text format at
/// http://ADDRESS/metrics. The endpoint has no authentication; the settings refuse a non-loopback address unless
/// metrics_allow_remote is set.
/// </summary>
internal static class MetricsEndpoint
{
    /// <summary>Starts listening; throws <see cref="InvalidOperationException"/> around the listener's error when the address cannot be bound.</summary>
    public static MeterProvider Start(IPEndPoint endPoint) =>
        Sdk.CreateMeterProviderBuilder()
            .ConfigureResource(r => r.AddService("ferry", serviceVersion: typeof(MetricsEndpoint).Assembly.GetName().Version?.ToString()))
            .AddMeter(FerryMetrics.MeterName)
            .AddPrometheusHttpListener(o =>
            {
                // HttpListener matches requests by their Host header: a wildcard address takes the wildcard host "+".
                o.Host = endPoint.Address.Equals(IPAddress.Any) || endPoint.Address.Equals(IPAddress.IPv6Any) ? "+"
                    : endPoint.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{endPoint.Address}]"
                    : endPoint.Address.ToString();
                o.Port = endPoint.Port;
                o.ScrapeEndpointPath = "/metrics";
                // Every scrape sees the counters as they are now (the default caches a response for 300 ms).
                o.ScrapeResponseCacheDurationMilliseconds = 0;
            })
            .Build();
}
