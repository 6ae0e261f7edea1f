package dev.sluice.gateway.http;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigInteger;
import java.util.Optional;

/**
 * Range checks of integer request parameters on their exact values. A JSON integer beyond 64 bits parses to
 * a BigIntegerNode whose asLong()/asInt() silently keep the low bits (2^64+3 reads as 3), so a check on those
 * would pass a huge n as a small one, or report "got 0" for 2^64; comparing BigIntegers cannot wrap.
 */
public final class IntegerParams {

    private IntegerParams() {}

    /**
     * OpenAI's error for {@code value} (an integral number) outside {@code [min, max]}, naming {@code param}
     * and quoting the value as it was sent; empty when it is within range.
     */
    public static Optional<ApiError> outOfRange(String param, JsonNode value, long min, long max) {
        var exact = value.bigIntegerValue();
        if (exact.compareTo(BigInteger.valueOf(min)) < 0) {
            return Optional.of(ApiError.invalidRequest("Invalid '" + param + "': integer below minimum value. Expected a value >= " + min
                    + ", but got " + exact + " instead.", param, "integer_below_min_value"));
        }
        if (exact.compareTo(BigInteger.valueOf(max)) > 0) {
            return Optional.of(ApiError.invalidRequest("Invalid '" + param + "': integer above maximum value. Expected a value <= " + max
                    + ", but got " + exact + " instead.", param, "integer_above_max_value"));
        }
        return Optional.empty();
    }
}
