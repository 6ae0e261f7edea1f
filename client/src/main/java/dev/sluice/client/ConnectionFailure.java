package dev.sluice.client;

/** The request could not be sent or no response came back: retryable. Internal between a transport and {@link HttpCaller}. */
final class ConnectionFailure extends Exception {
    ConnectionFailure(Throwable cause) {
        super(cause);
    }
}
