package dev.sluice.wire.chat;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.IntPredicate;

/**
 * A byte scanner for the one chunk shape that makes up nearly every OpenAI-style stream: metadata, one choice,
 * a delta of role / content / refusal. Jackson's streaming parser plus the decoder's generic reading cost
 * most of the gateway's CPU while relaying; this reads that shape straight from the SSE bytes, and the
 * metadata repeated on every chunk costs a byte comparison instead of a String.
 *
 * <p>{@link #scan} either accepts the whole payload, leaving exactly what the Jackson path would have read
 * in the result fields, or returns false having changed nothing the decoder emits, so the caller falls back
 * to Jackson. It only accepts what it is sure Jackson reads the same way: anything else (other keys, other
 * value types, duplicate keys, n > 1, numbers that are not plain integers, malformed UTF-8, trailing bytes)
 * is refused, and errors are always Jackson's to report. Not thread-safe; one instance per decoder.
 */
final class FastChunkScanner {

    // The chunk read by scan, valid only when it returned true. Absent and null values are both null, as the
    // Jackson path reads them.
    String id, object, model, fingerprint, tier, obfuscation;
    boolean hasFingerprint, hasTier;
    long created;
    boolean hasChoice;
    int index;
    String role, content, refusal, finish;

    /** A string value found by the scan: decoded only once the whole payload is accepted. */
    private static final class Span {
        static final byte ABSENT = 0, NULL = 1, STRING = 2;
        byte kind;
        int start, end;
        boolean escaped;
    }

    private final Span idSpan = new Span(), objectSpan = new Span(), modelSpan = new Span(), fingerprintSpan = new Span(),
            tierSpan = new Span(), obfuscationSpan = new Span(), roleSpan = new Span(), contentSpan = new Span(),
            refusalSpan = new Span(), finishSpan = new Span();
    private final Span[] spans = {idSpan, objectSpan, modelSpan, fingerprintSpan, tierSpan, obfuscationSpan, roleSpan,
            contentSpan, refusalSpan, finishSpan};

    /** The raw bytes of a repeated value and its String: equal bytes give the same String back. */
    private static final class Reuse {
        byte[] raw = new byte[0];
        String value;

        Reuse() {}

        Reuse(String value) {
            this.raw = value.getBytes(StandardCharsets.UTF_8);
            this.value = value;
        }
    }

    private final Reuse idReuse = new Reuse(), objectReuse, modelReuse = new Reuse(), fingerprintReuse = new Reuse(),
            tierReuse = new Reuse(), roleReuse = new Reuse("assistant"), finishReuse = new Reuse("stop");

    private byte[] buf;
    private int pos, end;

    /** Past this, Jackson's own limits (string length) could refuse what this scanner would accept. */
    private static final int MAX_PAYLOAD = 4 << 20;

    FastChunkScanner(String chunkObject) {
        objectReuse = new Reuse(chunkObject);
    }

    /** Whether the payload has the common shape (then the fields above hold it); false leaves it all to Jackson. */
    boolean scan(byte[] data, int offset, int length) {
        if (length > MAX_PAYLOAD) return false;
        buf = data;
        pos = offset;
        end = offset + length;
        for (var s : spans) s.kind = Span.ABSENT;
        created = -1;
        hasChoice = hasFingerprint = hasTier = false;
        index = 0;
        choicesAt = -1;
        boolean resumed = resume(offset);
        if (!resumed) ws();
        // Jackson stops at the closing brace and ignores what follows; trailing bytes are left for it to judge.
        boolean ok = (resumed ? rest(HEAD_SEEN_RESUMED) : chunk()) && endsAfterWhitespace();
        if (ok) {
            materialize(resumed);
            if (resumed) headHits++;
            else remember(offset);
        }
        buf = null;
        return ok;
    }

    private boolean endsAfterWhitespace() {
        ws();
        return pos == end;
    }

    private void materialize(boolean resumed) {
        id = metadata(idSpan, idReuse, headId, resumed);
        object = metadata(objectSpan, objectReuse, headObject, resumed);
        model = metadata(modelSpan, modelReuse, headModel, resumed);
        fingerprint = metadata(fingerprintSpan, fingerprintReuse, headFingerprint, resumed);
        tier = metadata(tierSpan, tierReuse, headTier, resumed);
        role = reuse(roleSpan, roleReuse);
        finish = reuse(finishSpan, finishReuse);
        obfuscation = text(obfuscationSpan);
        content = text(contentSpan);
        refusal = text(refusalSpan);
    }

    // ---------------------------------------------------------------- the repeated head

    /*
     * Every chunk of a stream usually starts with the same bytes up to its choices: {"id":…,"object":…,
     * "created":…,"model":…,"system_fingerprint":…,"choices":. Reading them is a third of the scan. After a chunk
     * whose keys before "choices" were all metadata, those bytes and what they gave are kept; a chunk starting
     * with the very same bytes gives the very same values, so its scan starts at its choices.
     */
    private static final int CHOICES = 6;
    /** Keys a kept head may hold: the metadata whose values are kept with it. */
    private static final int HEAD_KEYS = 1 << 0 | 1 << 1 | 1 << 2 | 1 << 3 | 1 << 4 | 1 << 5;
    /** Marks a resumed scan for rest(): the keys seen come from the kept head. */
    private static final int HEAD_SEEN_RESUMED = -1;

    private byte[] head = new byte[0];
    private int headLength = -1; // -1: nothing kept
    private int headSeen;
    private String headId, headObject, headModel, headFingerprint, headTier;
    private long headCreated;
    private boolean headHasFingerprint, headHasTier;
    /** Chunks whose head was the kept one; for tests. */
    int headHits;

    // Where in buf the last scan met the choices' value, and the keys it had seen by then.
    private int choicesAt, choicesSeen;

    /** Whether the payload starts with the kept head; then pos is at the choices (materialize gives the head's strings). */
    private boolean resume(int offset) {
        int n = headLength;
        if (n < 0 || end - offset <= n || !Arrays.equals(buf, offset, offset + n, head, 0, n)) return false;
        pos = offset + n;
        ws(); // the head may end before all of the whitespace after the colon
        created = headCreated;
        hasFingerprint = headHasFingerprint;
        hasTier = headHasTier;
        return true;
    }

    /** After an accepted scan that read its head: keeps the head when only metadata came before the choices. */
    private void remember(int offset) {
        if (choicesAt < 0 || (choicesSeen & ~HEAD_KEYS) != 1 << CHOICES) {
            headLength = -1;
            return;
        }
        int n = choicesAt - offset;
        if (head.length < n) head = new byte[Math.max(n, 2 * head.length)];
        System.arraycopy(buf, offset, head, 0, n);
        headLength = n;
        // The head's values are those of its own keys; the chunk's keys after the choices are not part of it.
        int seen = headSeen = choicesSeen;
        headId = inHead(seen, 0) ? id : null;
        headObject = inHead(seen, 1) ? object : null;
        headCreated = inHead(seen, 2) ? created : -1;
        headModel = inHead(seen, 3) ? model : null;
        headHasFingerprint = inHead(seen, 4);
        headFingerprint = headHasFingerprint ? fingerprint : null;
        headHasTier = inHead(seen, 5);
        headTier = headHasTier ? tier : null;
    }

    private static boolean inHead(int seen, int key) {
        return (seen & (1 << key)) != 0;
    }

    // ---------------------------------------------------------------- objects

    private static final byte[][] CHUNK_KEYS = keys(
            "id", "object", "created", "model", "system_fingerprint", "service_tier", "choices", "usage", "obfuscation");
    private static final byte[][] CHOICE_KEYS = keys("index", "delta", "logprobs", "finish_reason");
    private static final byte[][] DELTA_KEYS = keys("role", "content", "refusal", "reasoning_content", "reasoning", "tool_calls");

    /**
     * An object whose keys are all among {@code keys}, each at most once (duplicates: Jackson keeps the last,
     * or both for some; not worth copying), every value read by {@code value} given the key's index.
     */
    private boolean object(byte[][] keys, IntPredicate value) {
        int opened = open();
        if (opened != MEMBERS) return opened == EMPTY;
        int seen = 0;
        while (true) {
            int k = key(keys);
            if (k < 0 || (seen & (1 << k)) != 0) return false;
            seen |= 1 << k;
            if (!value.test(k)) return false;
            int next = next();
            if (next == '}') return true;
            if (next != ',') return false;
        }
    }

    // Kept in fields: the readers run once per chunk and must not allocate.
    private final IntPredicate choiceField = this::choiceField;
    private final IntPredicate deltaField = this::deltaField;

    private static final int NOT_AN_OBJECT = 0, EMPTY = 1, MEMBERS = 2;

    /** Reads an object's opening brace: then NOT_AN_OBJECT, EMPTY (its closing brace read too) or MEMBERS (pos at the first key). */
    private int open() {
        if (!at('{')) return NOT_AN_OBJECT;
        pos++;
        ws();
        if (!at('}')) return MEMBERS;
        pos++;
        return EMPTY;
    }

    /** The chunk object; its own loop (not object()) so that it can note where the choices are, and resume there. */
    private boolean chunk() {
        int opened = open();
        return opened == MEMBERS ? rest(0) : opened == EMPTY;
    }

    /**
     * The chunk's members from a key at pos, with the keys in {@code seen} read already; or, given
     * HEAD_SEEN_RESUMED, from the choices' value right after a kept head.
     */
    private boolean rest(int seen) {
        int k;
        if (seen == HEAD_SEEN_RESUMED) {
            seen = headSeen;
            k = CHOICES;
        } else {
            k = chunkKey(seen);
            if (k < 0) return false;
            seen |= 1 << k;
        }
        while (true) {
            if (k == CHOICES) {
                choicesAt = pos;
                choicesSeen = seen;
            }
            if (!chunkField(k)) return false;
            int next = next();
            if (next == '}') return true;
            if (next != ',') return false;
            k = chunkKey(seen);
            if (k < 0) return false;
            seen |= 1 << k;
        }
    }

    private int chunkKey(int seen) {
        int k = key(CHUNK_KEYS);
        return k < 0 || (seen & (1 << k)) != 0 ? -1 : k;
    }

    private boolean chunkField(int k) {
        return switch (k) {
            case 0 -> stringOrNull(idSpan);
            case 1 -> stringOrNull(objectSpan);
            case 2 -> created();
            case 3 -> stringOrNull(modelSpan);
            case 4 -> {
                hasFingerprint = true;
                yield stringOrNull(fingerprintSpan);
            }
            case 5 -> {
                hasTier = true;
                yield stringOrNull(tierSpan);
            }
            case 6 -> choices();
            case 7 -> literalNull(); // usage: null; a usage object is Jackson's
            // OpenAI pads every chunk with a random string; it becomes a chunk extra. Anything but a string is Jackson's.
            case 8 -> string(obfuscationSpan);
            default -> false;
        };
    }

    private boolean choices() {
        if (!at('[')) return false;
        pos++;
        ws();
        if (at(']')) {
            pos++;
            return true;
        }
        if (!object(CHOICE_KEYS, choiceField)) return false;
        hasChoice = true;
        // A second choice (n > 1) is Jackson's.
        ws();
        if (!at(']')) return false;
        pos++;
        return true;
    }

    private boolean choiceField(int k) {
        return switch (k) {
            case 0 -> index();
            case 1 -> object(DELTA_KEYS, deltaField);
            case 2 -> literalNull(); // logprobs objects are Jackson's
            case 3 -> stringOrNull(finishSpan);
            default -> false;
        };
    }

    private boolean deltaField(int k) {
        return switch (k) {
            case 0 -> stringOrNull(roleSpan);
            case 1 -> stringOrNull(contentSpan);
            case 2 -> stringOrNull(refusalSpan);
            // Null reasoning and tool calls add nothing in the Jackson path either (DeepSeek sends them on text chunks).
            case 3, 4, 5 -> literalNull();
            default -> false;
        };
    }

    /** The index of the key at pos among {@code keys} (pos then after its colon), or -1. */
    private int key(byte[][] keys) {
        ws();
        byte[] b = buf;
        int start = pos + 1, i = start, e = end;
        if (pos >= e || b[pos] != '"') return -1;
        // Known keys are plain ASCII: an escape, control or non-ASCII byte means an unknown (or escaped) key.
        for (; i < e && b[i] != '"'; i++) {
            if (b[i] == '\\' || b[i] < 0x20) return -1;
        }
        if (i >= e) return -1;
        int found = -1;
        for (int k = 0; k < keys.length && found < 0; k++) {
            if (keys[k].length == i - start && same(b, start, keys[k])) found = k;
        }
        if (found < 0) return -1;
        pos = i + 1;
        ws();
        if (!at(':')) return -1;
        pos++;
        ws();
        return found;
    }

    /** A plain loop: keys are a few bytes, too short for Arrays.equals' range checks and vector setup to pay. */
    private static boolean same(byte[] b, int at, byte[] key) {
        for (int j = 0; j < key.length; j++) if (b[at + j] != key[j]) return false;
        return true;
    }

    /** Skips whitespace and consumes the byte after it, or returns -1 at the end. */
    private int next() {
        ws();
        return pos < end ? buf[pos++] : -1;
    }

    // ---------------------------------------------------------------- values

    private boolean stringOrNull(Span span) {
        if (at('n')) {
            if (!literalNull()) return false;
            span.kind = Span.NULL;
            return true;
        }
        return string(span);
    }

    private boolean literalNull() {
        if (end - pos < 4 || buf[pos] != 'n' || buf[pos + 1] != 'u' || buf[pos + 2] != 'l' || buf[pos + 3] != 'l') return false;
        pos += 4;
        return true;
    }

    /** A non-negative integer of at most 18 digits (anything else, even valid JSON, is Jackson's). */
    private boolean created() {
        if (at('n')) return literalNull(); // not numeric: the Jackson path leaves created unset too
        long value = digits(18);
        if (value < 0) return false;
        created = value;
        return true;
    }

    private boolean index() {
        long value = digits(9);
        if (value < 0) return false;
        index = (int) value;
        return true;
    }

    /** Plain digits without a leading zero, sign, fraction or exponent, or -1. */
    private long digits(int max) {
        int start = pos;
        long value = 0;
        while (pos < end && buf[pos] >= '0' && buf[pos] <= '9') {
            value = value * 10 + (buf[pos] - '0');
            pos++;
        }
        int n = pos - start;
        if (n == 0 || n > max || (n > 1 && buf[start] == '0')) return -1;
        if (pos < end && (buf[pos] == '.' || buf[pos] == 'e' || buf[pos] == 'E')) return -1;
        return value;
    }

    /**
     * A string at pos: checks escapes and UTF-8 strictly (well-formed only, so that the JDK's decoder and
     * Jackson's agree on every char) and records where it is.
     */
    private boolean string(Span span) {
        if (!at('"')) return false;
        byte[] buf = this.buf;
        int start = pos + 1, i = start, end = this.end;
        boolean escaped = false;
        while (true) {
            if (i >= end) return false;
            int b = buf[i];
            if (b >= 0x20 && b != '"' && b != '\\') {
                i++;
            } else if (b == '"') {
                break;
            } else if (b == '\\') {
                if (i + 1 >= end) return false;
                switch (buf[i + 1]) {
                    case '"', '\\', '/', 'b', 'f', 'n', 'r', 't' -> i += 2;
                    case 'u' -> {
                        if (i + 6 > end) return false;
                        for (int h = i + 2; h < i + 6; h++) if (hex(buf[h]) < 0) return false;
                        i += 6;
                    }
                    default -> {
                        return false;
                    }
                }
                escaped = true;
            } else if (b >= 0) {
                return false; // unescaped control character
            } else {
                int n = utf8Length(i);
                if (n == 0) return false;
                i += n;
            }
        }
        span.kind = Span.STRING;
        span.start = start;
        span.end = i;
        span.escaped = escaped;
        pos = i + 1;
        return true;
    }

    /** The length of the well-formed UTF-8 sequence at i (Unicode table 3-7), or 0. */
    private int utf8Length(int i) {
        int b0 = buf[i] & 0xFF;
        if (b0 >= 0xC2 && b0 <= 0xDF) {
            return i + 1 < end && cont(buf[i + 1], 0x80, 0xBF) ? 2 : 0;
        }
        if (b0 >= 0xE0 && b0 <= 0xEF) {
            if (i + 2 >= end) return 0;
            int lo = b0 == 0xE0 ? 0xA0 : 0x80, hi = b0 == 0xED ? 0x9F : 0xBF;
            return cont(buf[i + 1], lo, hi) && cont(buf[i + 2], 0x80, 0xBF) ? 3 : 0;
        }
        if (b0 >= 0xF0 && b0 <= 0xF4) {
            if (i + 3 >= end) return 0;
            int lo = b0 == 0xF0 ? 0x90 : 0x80, hi = b0 == 0xF4 ? 0x8F : 0xBF;
            return cont(buf[i + 1], lo, hi) && cont(buf[i + 2], 0x80, 0xBF) && cont(buf[i + 3], 0x80, 0xBF) ? 4 : 0;
        }
        return 0;
    }

    private static boolean cont(byte b, int lo, int hi) {
        int v = b & 0xFF;
        return v >= lo && v <= hi;
    }

    private static int hex(byte b) {
        if (b >= '0' && b <= '9') return b - '0';
        if (b >= 'a' && b <= 'f') return b - 'a' + 10;
        if (b >= 'A' && b <= 'F') return b - 'A' + 10;
        return -1;
    }

    // ---------------------------------------------------------------- decoding

    private String reuse(Span span, Reuse reuse) {
        if (span.kind != Span.STRING) return null;
        if (Arrays.equals(buf, span.start, span.end, reuse.raw, 0, reuse.raw.length)) return reuse.value;
        reuse.raw = Arrays.copyOfRange(buf, span.start, span.end);
        reuse.value = decode(span);
        return reuse.value;
    }

    /** A metadata value: a resumed scan has it from the kept head unless it came after the choices. */
    private String metadata(Span span, Reuse reuse, String kept, boolean resumed) {
        return resumed && span.kind == Span.ABSENT ? kept : reuse(span, reuse);
    }

    private String text(Span span) {
        return span.kind == Span.STRING ? decode(span) : null;
    }

    /** The validated string's text: escapes resolved one char each, as Jackson does (so a \\u surrogate pair stays a pair). */
    private String decode(Span span) {
        if (!span.escaped) return new String(buf, span.start, span.end - span.start, StandardCharsets.UTF_8);
        // No sequence yields more chars than it has bytes.
        char[] out = new char[span.end - span.start];
        int n = 0;
        for (int i = span.start; i < span.end; ) {
            int b = buf[i] & 0xFF;
            if (b == '\\') {
                byte e = buf[i + 1];
                if (e == 'u') {
                    out[n++] = (char) (hex(buf[i + 2]) << 12 | hex(buf[i + 3]) << 8 | hex(buf[i + 4]) << 4 | hex(buf[i + 5]));
                    i += 6;
                    continue;
                }
                out[n++] = switch (e) {
                    case 'b' -> '\b';
                    case 'f' -> '\f';
                    case 'n' -> '\n';
                    case 'r' -> '\r';
                    case 't' -> '\t';
                    default -> (char) e; // " \ /
                };
                i += 2;
            } else if (b < 0x80) {
                out[n++] = (char) b;
                i++;
            } else if (b < 0xE0) {
                out[n++] = (char) ((b & 0x1F) << 6 | (buf[i + 1] & 0x3F));
                i += 2;
            } else if (b < 0xF0) {
                out[n++] = (char) ((b & 0x0F) << 12 | (buf[i + 1] & 0x3F) << 6 | (buf[i + 2] & 0x3F));
                i += 3;
            } else {
                int cp = (b & 0x07) << 18 | (buf[i + 1] & 0x3F) << 12 | (buf[i + 2] & 0x3F) << 6 | (buf[i + 3] & 0x3F);
                out[n++] = Character.highSurrogate(cp);
                out[n++] = Character.lowSurrogate(cp);
                i += 4;
            }
        }
        return new String(out, 0, n);
    }

    // ---------------------------------------------------------------- bytes

    private boolean at(char c) {
        return pos < end && buf[pos] == c;
    }

    /** JSON's four whitespace bytes, the only ones Jackson skips too. */
    private void ws() {
        byte[] b = buf;
        int p = pos, e = end;
        while (p < e && (b[p] == ' ' || b[p] == '\n' || b[p] == '\r' || b[p] == '\t')) p++;
        pos = p;
    }

    private static byte[][] keys(String... names) {
        var out = new byte[names.length][];
        for (int i = 0; i < names.length; i++) out[i] = names[i].getBytes(StandardCharsets.US_ASCII);
        return out;
    }
}
