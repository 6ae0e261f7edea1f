package dev.sluice.gateway.http;

/** Serves one request. Runs on its own virtual thread, so it may block. */
@FunctionalInterface
public interface HttpHandler {
    void handle(Exchange exchange) throws Exception;
}
