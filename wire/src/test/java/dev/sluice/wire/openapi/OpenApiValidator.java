package dev.sluice.wire.openapi;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.yaml.snakeyaml.LoaderOptions;

/**
 * Validates JSON against the component schemas of OpenAI's official OpenAPI 3.1 spec
 * ({@code <repo>/../shared/openapi/openai-openapi.yaml}), so tests can check everything the gateway
 * emits against the real contract rather than against our own reading of it.
 *
 * <p>It implements the JSON Schema subset the spec uses, with the spec's quirks: {@code oneOf} is
 * treated as {@code anyOf} (its unions overlap), {@code nullable: true} (an OpenAPI 3.0 leftover)
 * admits null, {@code exclusiveMinimum} may be a draft-4 boolean, {@code $recursiveRef} is resolved
 * to the enclosing recursive component, and {@code discriminator} and {@code format} are ignored.
 *
 * <p>Modules other than wire reach it through the wire test-jar and must also declare
 * {@code jackson-dataformat-yaml} with test scope (test dependencies are not transitive).
 */
public final class OpenApiValidator {

    private static final String SCHEMA_REF_PREFIX = "#/components/schemas/";
    private static final int MAX_VALUE_CHARS = 120;
    private static final int MAX_LIST_CHARS = 2000;
    private static final int MAX_INSTANCE_CHARS = 4000;
    private static final ObjectMapper JSON = new ObjectMapper();

    private static final Object LOCK = new Object();
    private static volatile OpenApiValidator shared;

    private final JsonNode document;
    private final JsonNode schemas;
    private final Path source;
    private final Duration loadTime;
    // Patterns are reused across thousands of validations; an invalid one is cached as empty and skipped.
    private final Map<String, Optional<Pattern>> patterns = new ConcurrentHashMap<>();

    private OpenApiValidator(JsonNode document, Path source, Duration loadTime) {
        this.document = document;
        this.schemas = document.path("components").path("schemas");
        this.source = source;
        this.loadTime = loadTime;
        if (!schemas.isObject() || schemas.isEmpty()) {
            throw new IllegalStateException(source + " has no components.schemas");
        }
    }

    // ---------------------------------------------------------------- locating and loading

    /** The repository root: surefire's {@code sluice.root}, else the nearest directory above holding mvnw. */
    public static Path repoRoot() {
        var prop = System.getProperty("sluice.root");
        if (prop != null && !prop.isBlank()) return Path.of(prop).toAbsolutePath().normalize();
        var cwd = Path.of("").toAbsolutePath();
        for (var dir = cwd; dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve("mvnw"))) return dir;
        }
        return cwd;
    }

    /** Where the spec is expected; it may not exist (see {@link #available()}). */
    public static Path specPath() {
        return repoRoot().resolve("../shared/openapi/openai-openapi.yaml").normalize();
    }

    /** Whether the spec is present, so tests can skip rather than fail where {@code ../shared} is absent. */
    public static boolean available() {
        return Files.isRegularFile(specPath());
    }

    /** Skips the calling test (JUnit assumption) when the spec is absent. */
    public static void assumeAvailable() {
        Assumptions.assumeTrue(available(), "../shared/openapi absent: no " + specPath());
    }

    /** The validator for {@link #specPath()}, parsed at most once per JVM: the 3 MB YAML takes about a second. */
    public static OpenApiValidator shared() {
        var v = shared;
        if (v != null) return v;
        synchronized (LOCK) {
            if (shared == null) shared = load(specPath());
            return shared;
        }
    }

    /** Same as {@link #shared()}. */
    public static OpenApiValidator load() {
        return shared();
    }

    /** Parses a spec file afresh, uncached; prefer {@link #shared()}. */
    public static OpenApiValidator load(Path spec) {
        if (!Files.isRegularFile(spec)) {
            throw new IllegalStateException("OpenAPI spec not found: " + spec + " (is ../shared/openapi present?)");
        }
        var start = System.nanoTime();
        try {
            return new OpenApiValidator(yamlMapper().readTree(spec.toFile()), spec,
                    Duration.ofNanos(System.nanoTime() - start));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot parse " + spec, e);
        }
    }

    private static ObjectMapper yamlMapper() {
        try {
            // SnakeYAML refuses documents over 3 MB of code points by default; the spec is just under that.
            var options = new LoaderOptions();
            options.setCodePointLimit(64 * 1024 * 1024);
            return new ObjectMapper(YAMLFactory.builder().loaderOptions(options).build());
        } catch (NoClassDefFoundError e) {
            throw new IllegalStateException("OpenApiValidator needs com.fasterxml.jackson.dataformat:"
                    + "jackson-dataformat-yaml on the test classpath (declare it with <scope>test</scope>)", e);
        }
    }

    /** The file this validator was loaded from. */
    public Path source() {
        return source;
    }

    /** How long reading and parsing the spec took. */
    public Duration loadTime() {
        return loadTime;
    }

    public boolean hasSchema(String name) {
        return schemas.has(name);
    }

    /** The names of all component schemas, sorted. */
    public Set<String> schemaNames() {
        var names = new TreeSet<String>();
        schemas.fieldNames().forEachRemaining(names::add);
        return names;
    }

    /** Every {@code $ref} in the document that does not resolve, sorted; empty for a sound spec. */
    public Set<String> unresolvedReferences() {
        var unresolved = new TreeSet<String>();
        collectUnresolved(document, unresolved);
        return unresolved;
    }

    private void collectUnresolved(JsonNode node, Set<String> out) {
        var ref = node.get("$ref");
        if (ref != null && ref.isTextual() && resolve(ref.textValue()) == null) out.add(ref.textValue());
        node.forEach(child -> collectUnresolved(child, out));
    }

    // ---------------------------------------------------------------- public validation API

    /**
     * Validates {@code instance} against {@code #/components/schemas/<schemaName>}.
     *
     * @return human-readable errors, each starting with a JSON path ({@code $.choices[0].index: ...});
     *     empty when valid
     * @throws IllegalArgumentException if the spec has no such schema
     */
    public List<String> validate(String schemaName, JsonNode instance) {
        var schema = schemas.get(schemaName);
        if (schema == null) throw new IllegalArgumentException("no component schema " + schemaName + " in " + source);
        var run = new Run();
        run.components.push(schemaName);
        run.active.add(new Visit(schema, "$"));
        var failures = new ArrayList<Failure>();
        check(schema, instance, "$", run, failures);
        return failures.stream().map(Failure::render).distinct().toList();
    }

    /** Parses {@code json} (e.g. an SSE {@code data:} payload) and validates it. */
    public List<String> validate(String schemaName, String json) {
        return validate(schemaName, parseJson(json));
    }

    /** Throws an {@link AssertionError} listing every error (and the instance) unless {@code instance} is valid. */
    public void assertValid(String schemaName, JsonNode instance) {
        var errors = validate(schemaName, instance);
        if (errors.isEmpty()) return;
        var text = instance.toString();
        if (text.length() > MAX_INSTANCE_CHARS) text = text.substring(0, MAX_INSTANCE_CHARS) + "...";
        throw new AssertionError("not a valid " + schemaName + " (" + errors.size() + " error"
                + (errors.size() == 1 ? "" : "s") + "):\n  " + String.join("\n  ", errors) + "\ninstance: " + text);
    }

    public void assertValid(String schemaName, String json) {
        assertValid(schemaName, parseJson(json));
    }

    private static JsonNode parseJson(String json) {
        try {
            return JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not JSON: " + e.getOriginalMessage(), e);
        }
    }

    // ---------------------------------------------------------------- failures

    private sealed interface Failure {
        String path();

        String message();

        default String render() {
            return path() + ": " + message();
        }
    }

    /** The instance is not of any of the expected JSON types; kept structured so unions can merge them. */
    private record TypeMismatch(String path, Set<String> expected, String actual) implements Failure {
        @Override
        public String message() {
            return "expected " + (expected.size() == 1 ? expected.iterator().next() : "one of " + expected)
                    + ", got " + actual;
        }
    }

    /**
     * The instance is not among the allowed values of an enum or const. A {@code tag} mismatch (a
     * single allowed value, the spec's way of labelling union members) says "wrong branch" rather
     * than "broken instance", which is what union reporting keys on.
     */
    private record EnumMismatch(String path, JsonNode actual, List<JsonNode> allowed, boolean tag) implements Failure {
        @Override
        public String message() {
            return show(actual) + " is not one of " + showAll(allowed);
        }
    }

    private record Violation(String path, String message) implements Failure {}

    // ---------------------------------------------------------------- evaluation

    /**
     * Per-call state: the dynamic scope for {@code $recursiveRef}, the $ref cycle guard, and how many
     * tags (single-value enums or consts) the instance has matched, evidence used to rank union branches.
     */
    private static final class Run {
        final Deque<String> components = new ArrayDeque<>();
        final Set<Visit> active = new HashSet<>();
        int tagMatches;
    }

    /**
     * A $ref target being applied at an instance path. Schema identity rather than equality: two
     * equal-looking schemas are distinct places, and deep equality on the spec would be slow.
     */
    private record Visit(JsonNode schema, String path) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Visit v && v.schema == schema && v.path.equals(path);
        }

        @Override
        public int hashCode() {
            return 31 * System.identityHashCode(schema) + path.hashCode();
        }
    }

    private void check(JsonNode schema, JsonNode inst, String path, Run run, List<Failure> out) {
        if (schema.isBoolean()) {
            if (!schema.booleanValue()) out.add(new Violation(path, "no value is allowed here (schema false)"));
            return;
        }
        if (!schema.isObject()) return;
        if (inst.isNull() && schema.path("nullable").asBoolean(false)) return;

        // OpenAPI 3.1 evaluates $ref alongside its siblings (e.g. a description or nullable beside it).
        var ref = schema.get("$ref");
        if (ref != null) checkRef(ref.asText(), inst, path, run, out);
        if (schema.has("$recursiveRef")) checkRecursiveRef(inst, path, run, out);

        var type = schema.get("type");
        if (type != null && !checkType(type, inst, path, out)) return; // other keywords would only add noise

        var enumValues = schema.get("enum");
        if (enumValues != null && enumValues.isArray()) {
            if (!contains(enumValues, inst)) {
                var allowed = new ArrayList<JsonNode>();
                enumValues.forEach(allowed::add);
                out.add(new EnumMismatch(path, inst, allowed, allowed.size() == 1));
            } else if (enumValues.size() == 1) {
                run.tagMatches++;
            }
        }
        var constValue = schema.get("const");
        if (constValue != null) {
            if (!jsonEquals(constValue, inst)) out.add(new EnumMismatch(path, inst, List.of(constValue), true));
            else run.tagMatches++;
        }

        if (inst.isNumber()) checkNumber(schema, inst, path, out);
        else if (inst.isTextual()) checkString(schema, inst.textValue(), path, out);
        else if (inst.isArray()) checkArray(schema, inst, path, run, out);
        else if (inst.isObject()) checkObject(schema, inst, path, run, out);

        var allOf = schema.get("allOf");
        if (allOf != null) allOf.forEach(branch -> check(branch, inst, path, run, out));
        var anyOf = schema.get("anyOf");
        if (anyOf != null) checkUnion("anyOf", anyOf, inst, path, run, out);
        var oneOf = schema.get("oneOf");
        if (oneOf != null) checkUnion("oneOf", oneOf, inst, path, run, out);

        var not = schema.get("not");
        if (not != null) {
            var inner = new ArrayList<Failure>();
            var tagMatches = run.tagMatches; // matching a negated schema is no evidence for this branch
            check(not, inst, path, run, inner);
            run.tagMatches = tagMatches;
            if (inner.isEmpty()) out.add(new Violation(path, "must not match " + show(not)));
        }
    }

    private void checkRef(String ref, JsonNode inst, String path, Run run, List<Failure> out) {
        var target = resolve(ref);
        if (target == null) {
            out.add(new Violation(path, "unresolvable $ref " + ref));
            return;
        }
        var component = ref.startsWith(SCHEMA_REF_PREFIX) ? ref.substring(SCHEMA_REF_PREFIX.length()) : null;
        applyReferenced(target, component, inst, path, run, out);
    }

    /**
     * Draft 2019-09 resolves {@code $recursiveRef: "#"} through the dynamic scope to the outermost schema
     * with {@code $recursiveAnchor: true}. Taken literally "#" would be the whole OpenAPI document, so
     * the component in which the reference sits stands in for the document root.
     */
    private void checkRecursiveRef(JsonNode inst, String path, Run run, List<Failure> out) {
        String target = null;
        for (var it = run.components.descendingIterator(); it.hasNext(); ) {
            var name = it.next();
            if (schemas.path(name).path("$recursiveAnchor").asBoolean(false)) {
                target = name;
                break;
            }
        }
        if (target == null) target = run.components.peek();
        if (target == null) {
            out.add(new Violation(path, "$recursiveRef outside any component schema"));
            return;
        }
        applyReferenced(schemas.get(target), target, inst, path, run, out);
    }

    private void applyReferenced(JsonNode target, String component, JsonNode inst, String path, Run run,
            List<Failure> out) {
        // A cycle that consumes no instance depth would never end; re-entering it cannot add errors.
        var visit = new Visit(target, path);
        if (!run.active.add(visit)) return;
        if (component != null) run.components.push(component);
        try {
            check(target, inst, path, run, out);
        } finally {
            if (component != null) run.components.pop();
            run.active.remove(visit);
        }
    }

    private JsonNode resolve(String ref) {
        if (ref.startsWith(SCHEMA_REF_PREFIX)) return schemas.get(ref.substring(SCHEMA_REF_PREFIX.length()));
        if (ref.startsWith("#/")) {
            var node = document.at(ref.substring(1));
            return node.isMissingNode() ? null : node;
        }
        return null; // external documents are not used by the spec
    }

    private static boolean checkType(JsonNode type, JsonNode inst, String path, List<Failure> out) {
        var expected = new LinkedHashSet<String>();
        if (type.isArray()) type.forEach(t -> expected.add(t.asText()));
        else expected.add(type.asText());
        if (expected.stream().anyMatch(t -> hasType(inst, t))) return true;
        out.add(new TypeMismatch(path, expected, typeOf(inst)));
        return false;
    }

    private static boolean hasType(JsonNode inst, String type) {
        return switch (type) {
            case "null" -> inst.isNull();
            case "boolean" -> inst.isBoolean();
            case "object" -> inst.isObject();
            case "array" -> inst.isArray();
            case "string" -> inst.isTextual();
            case "number" -> inst.isNumber();
            // JSON Schema integers are mathematical: 1.0 is one.
            case "integer" -> inst.isIntegralNumber() || (inst.isNumber() && inst.canConvertToExactIntegral());
            default -> false;
        };
    }

    private static String typeOf(JsonNode inst) {
        if (inst.isNull()) return "null";
        if (inst.isBoolean()) return "boolean";
        if (inst.isObject()) return "object";
        if (inst.isArray()) return "array";
        if (inst.isTextual()) return "string " + show(inst);
        if (inst.isNumber()) return (hasType(inst, "integer") ? "integer " : "number ") + inst;
        return inst.getNodeType().toString().toLowerCase();
    }

    private static void checkNumber(JsonNode schema, JsonNode inst, String path, List<Failure> out) {
        var value = inst.decimalValue();
        // Draft 4 / OpenAPI 3.0 style, still in the spec: exclusiveMinimum: true modifies minimum.
        var minimum = schema.get("minimum");
        if (minimum != null && minimum.isNumber()) {
            var exclusive = schema.path("exclusiveMinimum").asBoolean(false);
            var cmp = value.compareTo(minimum.decimalValue());
            if (cmp < 0 || (exclusive && cmp == 0)) {
                out.add(new Violation(path, inst + " is " + (exclusive ? "not above " : "below minimum ") + minimum));
            }
        }
        var maximum = schema.get("maximum");
        if (maximum != null && maximum.isNumber()) {
            var exclusive = schema.path("exclusiveMaximum").asBoolean(false);
            var cmp = value.compareTo(maximum.decimalValue());
            if (cmp > 0 || (exclusive && cmp == 0)) {
                out.add(new Violation(path, inst + " is " + (exclusive ? "not below " : "above maximum ") + maximum));
            }
        }
        var exclusiveMinimum = schema.get("exclusiveMinimum");
        if (exclusiveMinimum != null && exclusiveMinimum.isNumber()
                && value.compareTo(exclusiveMinimum.decimalValue()) <= 0) {
            out.add(new Violation(path, inst + " is not above " + exclusiveMinimum));
        }
        var exclusiveMaximum = schema.get("exclusiveMaximum");
        if (exclusiveMaximum != null && exclusiveMaximum.isNumber()
                && value.compareTo(exclusiveMaximum.decimalValue()) >= 0) {
            out.add(new Violation(path, inst + " is not below " + exclusiveMaximum));
        }
    }

    private void checkString(JsonNode schema, String value, String path, List<Failure> out) {
        var length = value.codePointCount(0, value.length());
        var minLength = schema.get("minLength");
        if (minLength != null && length < minLength.asInt()) {
            out.add(new Violation(path, "length " + length + " is below minLength " + minLength));
        }
        var maxLength = schema.get("maxLength");
        if (maxLength != null && length > maxLength.asLong()) {
            out.add(new Violation(path, "length " + length + " is above maxLength " + maxLength));
        }
        var pattern = schema.get("pattern");
        if (pattern != null && pattern.isTextual()) {
            // JSON Schema patterns are unanchored, hence find(); invalid (non-Java) regexes are skipped.
            var compiled = patterns.computeIfAbsent(pattern.textValue(), OpenApiValidator::compile);
            if (compiled.isPresent() && !compiled.get().matcher(value).find()) {
                out.add(new Violation(path, show(text(value)) + " does not match pattern " + pattern));
            }
        }
    }

    private static Optional<Pattern> compile(String regex) {
        try {
            return Optional.of(Pattern.compile(regex));
        } catch (PatternSyntaxException e) {
            return Optional.empty();
        }
    }

    private void checkArray(JsonNode schema, JsonNode inst, String path, Run run, List<Failure> out) {
        var size = inst.size();
        var minItems = schema.get("minItems");
        if (minItems != null && size < minItems.asInt()) {
            out.add(new Violation(path, size + " items, fewer than minItems " + minItems));
        }
        var maxItems = schema.get("maxItems");
        if (maxItems != null && size > maxItems.asInt()) {
            out.add(new Violation(path, size + " items, more than maxItems " + maxItems));
        }
        // prefixItems (2020-12) or the older tuple form items: [...] type the leading items.
        var items = schema.get("items");
        var prefix = schema.get("prefixItems");
        JsonNode rest = items;
        if (prefix == null && items != null && items.isArray()) {
            prefix = items;
            rest = schema.get("additionalItems");
        }
        var prefixSize = prefix != null && prefix.isArray() ? prefix.size() : 0;
        for (var i = 0; i < size; i++) {
            var itemSchema = i < prefixSize ? prefix.get(i) : rest;
            if (itemSchema != null) check(itemSchema, inst.get(i), path + "[" + i + "]", run, out);
        }
        if (schema.path("uniqueItems").asBoolean(false)) {
            for (var i = 0; i < size; i++) {
                for (var j = i + 1; j < size; j++) {
                    if (jsonEquals(inst.get(i), inst.get(j))) {
                        out.add(new Violation(path, "items " + i + " and " + j + " are equal (uniqueItems)"));
                    }
                }
            }
        }
    }

    private void checkObject(JsonNode schema, JsonNode inst, String path, Run run, List<Failure> out) {
        var required = schema.get("required");
        if (required != null) {
            for (var name : required) {
                if (!inst.has(name.asText())) {
                    out.add(new Violation(member(path, name.asText()), "required property is missing"));
                }
            }
        }
        var size = inst.size();
        var minProperties = schema.get("minProperties");
        if (minProperties != null && size < minProperties.asInt()) {
            out.add(new Violation(path, size + " properties, fewer than minProperties " + minProperties));
        }
        var maxProperties = schema.get("maxProperties");
        if (maxProperties != null && size > maxProperties.asInt()) {
            out.add(new Violation(path, size + " properties, more than maxProperties " + maxProperties));
        }
        var properties = schema.path("properties");
        var additional = schema.get("additionalProperties");
        var propertyNames = schema.get("propertyNames");
        for (var field : inst.properties()) {
            var name = field.getKey();
            var childPath = member(path, name);
            if (propertyNames != null) check(propertyNames, text(name), childPath, run, out);
            var propertySchema = properties.get(name);
            if (propertySchema != null) {
                check(propertySchema, field.getValue(), childPath, run, out);
            } else if (additional != null) {
                if (additional.isBoolean() && !additional.booleanValue()) {
                    out.add(new Violation(childPath, "property is not allowed (additionalProperties: false)"));
                } else {
                    check(additional, field.getValue(), childPath, run, out);
                }
            }
        }
    }

    /**
     * anyOf, and oneOf treated as anyOf: the spec's oneOf members overlap (e.g. a plain string schema
     * next to an enum of strings), so exclusivity would reject valid payloads. On failure only the
     * closest branch's errors are reported, or else a union of 40 event types would drown the cause.
     */
    private void checkUnion(String keyword, JsonNode branches, JsonNode inst, String path, Run run,
            List<Failure> out) {
        if (!branches.isArray() || branches.isEmpty()) return;
        // Tag matches count per branch; only those of the branch that decides the outcome are kept.
        var outerTagMatches = run.tagMatches;
        var attempts = new ArrayList<Attempt>();
        for (var i = 0; i < branches.size(); i++) {
            var failures = new ArrayList<Failure>();
            run.tagMatches = 0;
            check(branches.get(i), inst, path, run, failures);
            var tagMatches = run.tagMatches;
            run.tagMatches = outerTagMatches;
            if (failures.isEmpty()) {
                run.tagMatches += tagMatches;
                return;
            }
            attempts.add(new Attempt(i, branches.get(i), failures, tagMatches, path));
        }
        // When no branch even has the right JSON type, one merged type error is clearest and lets an
        // enclosing union recognise this whole subtree as the wrong shape.
        if (attempts.stream().allMatch(Attempt::wrongType)) {
            var expected = new LinkedHashSet<String>();
            attempts.forEach(a -> expected.addAll(((TypeMismatch) a.failures().getFirst()).expected()));
            out.add(new TypeMismatch(path, expected, typeOf(inst)));
            return;
        }
        var tagMismatch = mergedTagMismatch(attempts);
        if (tagMismatch != null) {
            out.add(tagMismatch);
            return;
        }
        var best = attempts.stream().min(Attempt.CLOSEST).orElseThrow();
        run.tagMatches += best.tagMatches();
        out.add(new Violation(path, "matches none of " + branches.size() + " " + keyword + " branches; closest is "
                + best.label() + ", which fails with:"));
        out.addAll(best.failures());
    }

    /**
     * When every branch of the right type rejects the same tag (say {@code $.type}), the instance's tag
     * is simply unknown: listing all known tags beats picking an arbitrary "closest" branch.
     */
    private static EnumMismatch mergedTagMismatch(List<Attempt> attempts) {
        var candidates = attempts.stream().filter(a -> !a.wrongType()).toList();
        if (candidates.isEmpty()) return null;
        Set<String> common = null;
        for (var attempt : candidates) {
            var paths = new LinkedHashSet<String>();
            attempt.tagMismatches().forEach(m -> paths.add(m.path()));
            if (common == null) common = paths;
            else common.retainAll(paths);
        }
        if (common.isEmpty()) return null;
        var path = common.iterator().next();
        var allowed = new ArrayList<JsonNode>();
        JsonNode actual = null;
        for (var attempt : candidates) {
            for (var m : attempt.tagMismatches().filter(m -> m.path().equals(path)).toList()) {
                actual = m.actual();
                m.allowed().stream().filter(v -> !contains(allowed, v)).forEach(allowed::add);
            }
        }
        return new EnumMismatch(path, actual, allowed, true);
    }

    private record Attempt(int index, JsonNode schema, List<Failure> failures, int tagMatches, String path) {
        // Prefer branches of the right JSON type, then those with fewest wrong and most right tags
        // (consts), then fewest errors.
        static final Comparator<Attempt> CLOSEST = Comparator.comparing(Attempt::wrongType)
                .thenComparingLong(a -> a.tagMismatches().count())
                .thenComparing(Comparator.comparingInt(Attempt::tagMatches).reversed())
                .thenComparingInt(a -> a.failures().size())
                .thenComparingInt(Attempt::index);

        boolean wrongType() {
            return failures.size() == 1 && failures.getFirst() instanceof TypeMismatch t && t.path().equals(path);
        }

        Stream<EnumMismatch> tagMismatches() {
            return failures.stream()
                    .flatMap(f -> f instanceof EnumMismatch m && m.tag() ? Stream.of(m) : Stream.empty());
        }

        /** The component name, else the branch's title or its tag (e.g. {@code event = "thread.run.created"}). */
        String label() {
            var ref = schema.path("$ref").asText("");
            if (ref.startsWith(SCHEMA_REF_PREFIX)) return ref.substring(SCHEMA_REF_PREFIX.length());
            var title = schema.path("title").asText("");
            if (!title.isEmpty()) return "#" + index + " (" + title + ")";
            for (var property : schema.path("properties").properties()) {
                var values = property.getValue().path("enum");
                if (values.size() == 1) return "#" + index + " (" + property.getKey() + " = " + values.get(0) + ")";
            }
            return "#" + index;
        }
    }

    // ---------------------------------------------------------------- JSON helpers

    /** Property names as bare segments where they read naturally, else bracketed and quoted. */
    private static String member(String path, String name) {
        return name.matches("[A-Za-z_$][A-Za-z0-9_$]*") ? path + "." + name : path + "[" + text(name) + "]";
    }

    private static boolean contains(JsonNode values, JsonNode inst) {
        return IntStream.range(0, values.size()).anyMatch(i -> jsonEquals(values.get(i), inst));
    }

    private static boolean contains(List<JsonNode> values, JsonNode inst) {
        return values.stream().anyMatch(v -> jsonEquals(v, inst));
    }

    /** JSON Schema equality: numbers by value (YAML's 1 and JSON's 1.0 are equal), containers deeply. */
    private static boolean jsonEquals(JsonNode a, JsonNode b) {
        if (a.isNumber() && b.isNumber()) return a.decimalValue().compareTo(b.decimalValue()) == 0;
        if (a.isObject() && b.isObject()) {
            if (a.size() != b.size()) return false;
            for (var field : a.properties()) {
                var other = b.get(field.getKey());
                if (other == null || !jsonEquals(field.getValue(), other)) return false;
            }
            return true;
        }
        if (a.isArray() && b.isArray()) {
            return a.size() == b.size() && IntStream.range(0, a.size()).allMatch(i -> jsonEquals(a.get(i), b.get(i)));
        }
        return a.equals(b);
    }

    /** Allowed values in full up to a point: the one you meant is usually the one a cut would hide. */
    private static String showAll(List<JsonNode> values) {
        var text = values.stream().map(JsonNode::toString).collect(Collectors.joining(",", "[", "]"));
        if (text.length() <= MAX_LIST_CHARS) return text;
        return text.substring(0, MAX_LIST_CHARS) + "... (" + values.size() + " values)";
    }

    private static String show(JsonNode node) {
        var text = node.toString();
        return text.length() <= MAX_VALUE_CHARS ? text : text.substring(0, MAX_VALUE_CHARS) + "...";
    }

    private static JsonNode text(String value) {
        return JSON.getNodeFactory().textNode(value);
    }
}
