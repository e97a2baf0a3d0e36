package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every status code the native sources define ({@code #define LN4J_OK} / {@code LN4J_ERR_*} in native/include and
 * native/src/common) has its name in {@link LayerNormException#statusName} and a constant of the same name and
 * value: a code added in C without its Java name fails here.
 */
class LayerNormExceptionTest {
    private static final Path ROOT = Path.of(System.getProperty("basedir", "."));
    private static final Pattern DEFINE = Pattern.compile("#define\\s+LN4J_(OK|ERR_([A-Z0-9_]+))\\s+\\(?(-?\\d+)\\)?");

    /** name (without LN4J_ERR_) -> code, from every header and source under the given folders. */
    static Map<String, Integer> nativeStatusCodes() throws IOException {
        Map<String, Integer> codes = new TreeMap<>();
        for (String dir : new String[] {"native/include", "native/src/common"}) {
            try (Stream<Path> files = Files.walk(ROOT.resolve(dir))) {
                for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                    Matcher m = DEFINE.matcher(Files.readString(f));
                    while (m.find()) {
                        String name = m.group(2) == null ? "OK" : m.group(2);
                        Integer old = codes.put(name, Integer.parseInt(m.group(3)));
                        assertTrue(old == null || old == Integer.parseInt(m.group(3)), name + " defined twice");
                    }
                }
            }
        }
        return codes;
    }

    @Test
    void everyNativeStatusHasItsName() throws Exception {
        Map<String, Integer> codes = nativeStatusCodes();
        assertTrue(codes.containsKey("OK") && codes.containsKey("INVALID_ARGUMENT") && codes.size() >= 7,
                "the native status codes were not found (layernorm4j.h moved?): " + codes);
        for (Map.Entry<String, Integer> e : codes.entrySet()) {
            assertEquals(e.getKey(), LayerNormException.statusName(e.getValue()),
                    "LayerNormException.statusName(" + e.getValue() + ") for LN4J_" + (e.getValue() == 0 ? "" : "ERR_")
                            + e.getKey());
            if (e.getValue() == 0) continue;
            Field f = LayerNormException.class.getField(e.getKey());
            assertTrue(Modifier.isStatic(f.getModifiers()) && f.getType() == int.class, f.toString());
            assertEquals((int) e.getValue(), f.getInt(null), "LayerNormException." + e.getKey());
        }
        // and no Java constant names a code the native side does not have
        for (Field f : LayerNormException.class.getFields()) {
            if (f.getType() != int.class || !Modifier.isStatic(f.getModifiers())) continue;
            assertEquals(codes.get(f.getName()), (Integer) f.getInt(null), "LayerNormException." + f.getName());
        }
    }

    @Test
    void unknownCodesAreNamedByNumber() {
        assertEquals("STATUS_99", LayerNormException.statusName(99));
        LayerNormException e = new LayerNormException(LayerNormException.ZERO_GAMMA, "column 3");
        assertEquals(LayerNormException.ZERO_GAMMA, e.status());
        assertEquals("ZERO_GAMMA: column 3", e.getMessage());
        assertFalse(LayerNormException.statusName(LayerNormException.CUDA).startsWith("STATUS_"));
    }
}
