package dev.sluice.gateway.usage;

/** Where usage records go. The default writes one log line per request. */
@FunctionalInterface
public interface UsageSink {

    void record(UsageRecord record);

    UsageSink LOG = record -> System.getLogger("sluice.usage").log(System.Logger.Level.INFO, () -> String.format(
            "usage request=%s model=%s deployment=%s prompt=%d completion=%d estimated=%s attempts=%d outcome=%s",
            record.requestId(), record.model(), record.deployment(), record.promptTokens(), record.completionTokens(),
            record.estimated(), record.attempts(), record.outcome()));
}
