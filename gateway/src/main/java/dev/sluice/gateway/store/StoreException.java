package dev.sluice.gateway.store;

/** A storage failure (the database is unreachable, a statement failed). */
public final class StoreException extends RuntimeException {
    public StoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
