package dev.sluice.gateway.runs;

import java.security.SecureRandom;

/** Object ids in OpenAI's style: a prefix ({@code asst_}, {@code thread_}, {@code msg_}, {@code run_}, {@code step_}) and 24 random characters. */
public final class Ids {

    private static final char[] ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".toCharArray();
    private static final SecureRandom RANDOM = new SecureRandom();

    private Ids() {}

    public static String next(String prefix) {
        var out = new StringBuilder(prefix.length() + 24).append(prefix);
        for (int i = 0; i < 24; i++) out.append(ALPHABET[RANDOM.nextInt(ALPHABET.length)]);
        return out.toString();
    }

    public static long nowSeconds() {
        return System.currentTimeMillis() / 1000;
    }
}
