package dev.sluice.gateway.config;

/** A configuration that cannot be used; the message names the file location and the fix. */
public final class ConfigException extends RuntimeException {
    public ConfigException(String message) {
        super(message);
    }
}
