package dev.sluice.gateway.usage;

/**
 * What one request cost, recorded when it ends however it ends (completed, failed, or cancelled by the
 * client — tokens streamed before a hang-up still count).
 *
 * @param outcome {@code completed}, {@code error}, {@code client_cancelled}
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
