package dev.sluice.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * How busy the machine was during a phase, and how much of that was not the benchmark (other engineers' builds on
 * a shared machine, the hypervisor's steal): the same accounting as {@link LoadGen}'s per-window columns, for the
 * benches that are not LoadGen windows (held streams, cancel trials).
 */
final class MachineLoad {
    private final List<Long> pids;
    private final long[] machine0;
    private final long bench0;

    private MachineLoad(List<Long> pids) {
        this.pids = pids;
        this.machine0 = ProcCpu.machine();
        this.bench0 = ProcCpu.treeTicks(pids);
    }

    /** Starts a phase; {@code pidsCsv} are the benchmark's other processes (this JVM is always counted as ours). */
    static MachineLoad start(String pidsCsv) {
        var pids = new ArrayList<>(ProcCpu.parsePids(pidsCsv));
        long self = ProcessHandle.current().pid();
        if (!pids.contains(self)) pids.add(self);
        return new MachineLoad(pids);
    }

    /** {busy %, steal %, foreign %} of the whole machine since the start. */
    double[] percentages() {
        long[] m1 = ProcCpu.machine();
        long b1 = ProcCpu.treeTicks(pids);
        return percentages(machine0, m1, b1 - bench0);
    }

    static double[] percentages(long[] m0, long[] m1, long benchTicks) {
        double total = m1[0] - m0[0];
        if (total <= 0) return new double[] {Double.NaN, Double.NaN, Double.NaN};
        double busy = 100.0 * (m1[1] - m0[1]) / total;
        double steal = 100.0 * (m1[2] - m0[2]) / total;
        double foreign = Math.max(0, 100.0 * ((m1[1] - m0[1]) - benchTicks) / total);
        return new double[] {busy, steal, foreign};
    }

    String human() {
        double[] p = percentages();
        return String.format(Locale.ROOT, "machine busy %.1f%% (not the benchmark: %.1f%%), steal %.1f%%", p[0], p[2], p[1]);
    }
}
