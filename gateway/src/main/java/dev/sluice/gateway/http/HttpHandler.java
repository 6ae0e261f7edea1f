package dev.sluice.gateway.http;

/** Serves one request. {@link #handle} runs on its own virtual thread, so it may block. */
@FunctionalInterface
public interface HttpHandler {
    void handle(Exchange exchange) throws Exception;

    /**
     * Offered each request first, on the connection's event loop, where it must not block: true when it took
     * the request (it answers from the loop, or {@link Exchange#fork}s); false to have {@link #handle} run on a
     * virtual thread. Serving on the loop spares the hand-offs between threads that dominate a proxy's cost.
     */
    default boolean handleOnEventLoop(Exchange exchange) throws Exception {
        return false;
    }
}
