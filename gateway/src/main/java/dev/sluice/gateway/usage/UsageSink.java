package dev.sluice.gateway.usage;

/** Where usage records go. The default writes one line per request on stderr ({@link UsageLog}). */
@FunctionalInterface
public interface UsageSink {

    void record(UsageRecord record);

    UsageSink LOG = UsageLog.STDERR;
}
