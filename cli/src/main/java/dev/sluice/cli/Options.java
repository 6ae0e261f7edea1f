package dev.sluice.cli;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** {@code --name value} and {@code --flag} options plus positional arguments. */
record Options(Map<String, String> values, Set<String> flags, List<String> positional) {

    static final class UsageException extends Exception {
        UsageException(String message) {
            super(message);
        }
    }

    static Options parse(String[] args, Set<String> valued, Set<String> flags) throws UsageException {
        var values = new HashMap<String, String>();
        var seen = new java.util.HashSet<String>();
        var positional = new ArrayList<String>();
        for (int i = 0; i < args.length; i++) {
            var a = args[i];
            if (a.startsWith("--")) {
                var name = a.substring(2);
                String inline = null;
                int eq = name.indexOf('=');
                if (eq >= 0) {
                    inline = name.substring(eq + 1);
                    name = name.substring(0, eq);
                }
                if (valued.contains(name)) {
                    if (inline == null) {
                        if (i + 1 >= args.length) throw new UsageException("--" + name + " needs a value");
                        inline = args[++i];
                    }
                    values.put(name, inline);
                } else if (flags.contains(name) && inline == null) {
                    seen.add(name);
                } else {
                    throw new UsageException("unknown option --" + name);
                }
            } else {
                positional.add(a);
            }
        }
        return new Options(Map.copyOf(values), Set.copyOf(seen), List.copyOf(positional));
    }

    String get(String name, String fallback) {
        return values.getOrDefault(name, fallback);
    }

    boolean has(String flag) {
        return flags.contains(flag);
    }
}
