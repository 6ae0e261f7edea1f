package dev.sluice.gateway.runs;

import dev.sluice.gateway.Gateway;
import dev.sluice.gateway.config.ConfigLoader;
import java.nio.file.Path;

/** A gateway in its own process for {@link CrashRecoveryTest}: {@code CrashTestServer <config.yaml>}; prints its port. */
public final class CrashTestServer {
    public static void main(String[] args) throws Exception {
        var gateway = Gateway.start(new ConfigLoader(name -> null).load(Path.of(args[0])));
        System.out.println("listening on port " + gateway.port());
        System.out.flush();
        Thread.currentThread().join();
    }
}
