package dev.sluice.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.util.ResourceLeakDetector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ServeCommandTest {

    private static final String PROPERTY = "io.netty.leakDetection.level";
    private final String property = System.getProperty(PROPERTY);
    private final ResourceLeakDetector.Level level = ResourceLeakDetector.getLevel();

    @AfterEach
    void restore() {
        if (property == null) System.clearProperty(PROPERTY);
        else System.setProperty(PROPERTY, property);
        ResourceLeakDetector.setLevel(level);
    }

    @Test
    void aServerRunsWithoutNettysLeakDetectorUnlessAskedFor() {
        System.clearProperty(PROPERTY);
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.SIMPLE);
        ServeCommand.quietLeakDetector();
        assertThat(ResourceLeakDetector.getLevel()).isEqualTo(ResourceLeakDetector.Level.DISABLED);
    }

    @Test
    void anExplicitLevelIsKept() {
        System.setProperty(PROPERTY, "paranoid");
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        ServeCommand.quietLeakDetector();
        assertThat(ResourceLeakDetector.getLevel()).isEqualTo(ResourceLeakDetector.Level.PARANOID);
    }
}
