package dev.sluice.gateway.usage;

/**
 * What one request cost, recorded when it ends however it ends (completed, failed, or cancelled by the
 * client — tokens streamed before a hang-up still count).
 *
 * @param requestId the gateway's request id; for a run, the run's id (one record per model call)
 * @param outcome   {@code completed}, {@code incomplete}, {@code error}, {@code client_cancelled},
 *                  {@code upstream_refused}; for runs and Responses also {@code cancelled}, and for runs
 *                  {@code requires_action} (the pass ended with tool calls)
 */
public record UsageRecord(
        String requestId,
        String model,
        String deployment,
        int promptTokens,
        int completionTokens,
        boolean estimated,
        int attempts,
        String outcome) {}
