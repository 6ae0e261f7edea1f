package dev.sluice.gateway.runs;

import dev.sluice.gateway.config.GatewayConfig;
import dev.sluice.gateway.http.ApiError;
import dev.sluice.gateway.http.Exchange;
import dev.sluice.gateway.routing.Router;
import dev.sluice.gateway.store.Kind;
import dev.sluice.gateway.store.Store;
import dev.sluice.gateway.store.StoreException;
import dev.sluice.gateway.store.Stores;

/**
 * The Assistants API, served by Sluice itself: {@code /assistants}, {@code /threads} and everything under
 * them. Owns the store, the run event log and the run engine; {@link #handle} routes a request to its handler.
 */
public final class AssistantsApi implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(AssistantsApi.class.getName());
    private static final int MAX_CONCURRENT_RUNS = 1024;

    private final Store store;
    private final RunEventLog log;
    private final RunEngine engine;
    private final AssistantsHandler assistants;
    private final ThreadsHandler threads;
    private final MessagesHandler messages;
    private final RunsHandler runs;

    public AssistantsApi(Store store, Router router, GatewayConfig.Limits limits, dev.sluice.gateway.usage.UsageSink usage) {
        this.store = store;
        this.log = new RunEventLog(store.runEvents());
        this.engine = new RunEngine(store, log, router, MAX_CONCURRENT_RUNS, usage);
        this.assistants = new AssistantsHandler(store.objects(Kind.ASSISTANT), router);
        this.threads = new ThreadsHandler(store, engine);
        this.messages = new MessagesHandler(store, engine, threads);
        this.runs = new RunsHandler(store, engine, new RunStreamer(log, limits.keepAlive()), assistants, threads);
        int settled = engine.recover();
        if (settled > 0) LOG.log(System.Logger.Level.WARNING, settled + " run(s) left in flight by the previous process ended as failed");
    }

    /** Opens the configured storage (creating and migrating it) and starts the run engine. */
    public static AssistantsApi start(GatewayConfig config, Router router, dev.sluice.gateway.usage.UsageSink usage) {
        return new AssistantsApi(Stores.open(config.storage()), router, config.limits(), usage);
    }

    /** Whether {@code route} (the path without {@code /v1}) belongs to the Assistants API. */
    public static boolean handles(String route) {
        return route.equals("/assistants") || route.startsWith("/assistants/") || route.equals("/threads") || route.startsWith("/threads/");
    }

    public void handle(Exchange ex, String route) throws InterruptedException {
        try {
            dispatch(ex, route.substring(1).split("/", -1), ex.method());
        } catch (ApiException e) {
            ex.sendError(e.error());
        } catch (StoreException e) {
            LOG.log(System.Logger.Level.ERROR, "storage failed on " + ex.method() + " " + ex.path(), e);
            ex.sendError(ApiError.server(500, "The gateway's storage failed: " + e.getMessage(), "storage_error"));
        }
    }

    private void dispatch(Exchange ex, String[] p, String method) throws InterruptedException {
        int n = p.length;
        boolean get = method.equals("GET") || method.equals("HEAD"); // HEAD is answered as GET, the codec drops the body
        boolean post = method.equals("POST");
        boolean delete = method.equals("DELETE");
        if (p[0].equals("assistants")) {
            if (n == 1 && post) assistants.create(ex);
            else if (n == 1 && get) assistants.list(ex);
            else if (n == 2 && get) assistants.get(ex, p[1]);
            else if (n == 2 && post) assistants.modify(ex, p[1]);
            else if (n == 2 && delete) assistants.delete(ex, p[1]);
            else notFound(ex, n <= 2, p);
            return;
        }
        // threads
        if (n == 1) {
            if (post) threads.create(ex);
            else notFound(ex, true, p);
        } else if (n == 2 && p[1].equals("runs")) {
            if (post) runs.createAndRun(ex);
            else notFound(ex, true, p);
        } else if (n == 2) {
            if (get) threads.get(ex, p[1]);
            else if (post) threads.modify(ex, p[1]);
            else if (delete) threads.delete(ex, p[1]);
            else notFound(ex, true, p);
        } else if (p[2].equals("messages")) {
            if (n == 3 && post) messages.create(ex, p[1]);
            else if (n == 3 && get) messages.list(ex, p[1]);
            else if (n == 4 && get) messages.get(ex, p[1], p[3]);
            else if (n == 4 && post) messages.modify(ex, p[1], p[3]);
            else if (n == 4 && delete) messages.delete(ex, p[1], p[3]);
            else notFound(ex, n <= 4, p);
        } else if (p[2].equals("runs")) {
            if (n == 3 && post) runs.create(ex, p[1]);
            else if (n == 3 && get) runs.list(ex, p[1]);
            else if (n == 4 && get) runs.get(ex, p[1], p[3]);
            else if (n == 4 && post) runs.modify(ex, p[1], p[3]);
            else if (n == 5 && post && p[4].equals("cancel")) runs.cancel(ex, p[1], p[3]);
            else if (n == 5 && post && p[4].equals("submit_tool_outputs")) runs.submitToolOutputs(ex, p[1], p[3]);
            else if (n == 5 && get && p[4].equals("steps")) runs.listSteps(ex, p[1], p[3]);
            else if (n == 5 && get && p[4].equals("events")) runs.events(ex, p[1], p[3]);
            else if (n == 6 && get && p[4].equals("steps")) runs.getStep(ex, p[1], p[3], p[5]);
            else notFound(ex, n == 3 || n == 4 || (n == 5 && java.util.Set.of("cancel", "submit_tool_outputs", "steps", "events").contains(p[4])) || (n == 6 && p[4].equals("steps")), p);
        } else {
            notFound(ex, false, p);
        }
    }

    /** 405 when the path exists with another method, else OpenAI's 404 for an unknown URL. */
    private static void notFound(Exchange ex, boolean pathExists, String[] p) {
        if (pathExists) {
            ex.sendError(ApiError.methodNotAllowed(ex.method(), ex.path(), allowed(p)));
        } else {
            ex.sendError(ApiError.notFound("Invalid URL (" + ex.method() + " " + ex.path() + ")", null, null));
        }
    }

    /** The methods {@link #dispatch} serves on existing path {@code p}, for a 405's Allow header. Keep the two in step. */
    private static String[] allowed(String[] p) {
        int n = p.length;
        if (p[0].equals("assistants")) return n == 1 ? new String[] {"GET", "POST"} : new String[] {"GET", "POST", "DELETE"};
        if (n == 1 || (n == 2 && p[1].equals("runs"))) return new String[] {"POST"};
        if (n == 2) return new String[] {"GET", "POST", "DELETE"};
        if (p[2].equals("messages")) return n == 3 ? new String[] {"GET", "POST"} : new String[] {"GET", "POST", "DELETE"};
        if (n == 3 || n == 4) return new String[] {"GET", "POST"};
        if (n == 5 && (p[4].equals("cancel") || p[4].equals("submit_tool_outputs"))) return new String[] {"POST"};
        return new String[] {"GET"}; // runs/{id}/steps, runs/{id}/events, runs/{id}/steps/{id}
    }

    public Store store() {
        return store;
    }

    @Override
    public void close() {
        engine.close();
        log.close();
        store.close();
    }
}
