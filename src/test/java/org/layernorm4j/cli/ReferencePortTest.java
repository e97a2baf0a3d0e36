package org.layernorm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The Java port of the float64 reference (Reference, used by the CLI's check and the accuracy tests) against the
 * C++ reference library the native tests and the benchmark use: ln4j_reference_cases (built with the native tests)
 * writes problems and the C++ reference's mean, rstd, y, dx, dgamma, dbeta as hex floats; the port must agree to
 * float64 rounding on every value. (The two tolerance models differ on purpose: the port's bounds judge any
 * backend from Java, the C++ model's per-path growth judges the kernels natively.)
 */
class ReferencePortTest {
    @Test
    void javaReferenceAgreesWithTheCppReference() throws Exception {
        String target = System.getProperty("ln4j.targetDir", "target");
        File exe = new File(target, "cmake-build/bin/ln4j_reference_cases");
        assertTrue(exe.canExecute(), "the native build must provide " + exe + " (LN4J_BUILD_TESTS)");
        Process p = new ProcessBuilder(exe.getPath()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        List<Map<String, double[]>> cases = parse(out);
        assertEquals(5, cases.size(), "cases written");
        for (Map<String, double[]> c : cases) {
            int rows = (int) c.get("case")[0], cols = (int) c.get("case")[1];
            double eps = c.get("case")[2];
            Reference f = new Reference(c.get("x"), c.get("gamma"), c.get("beta"), rows, cols, eps, 0x1p-53, 0x1p-53,
                    0x1p-53);
            Reference.Backward b = f.new Backward(c.get("dy"), 0x1p-53, 0x1p-53);
            String what = rows + "x" + cols;
            near(what + " mean", f.mean, c.get("mean"), cols);
            near(what + " rstd", f.rstd, c.get("rstd"), cols);
            near(what + " y", f.y, c.get("y"), cols);
            near(what + " dx", b.dx, c.get("dx"), cols);
            near(what + " dgamma", b.dgamma, c.get("dgamma"), rows);
            near(what + " dbeta", b.dbeta, c.get("dbeta"), rows);
        }
    }

    /** Agreement to the rounding of an n-term float64 sum: 8 n u relative to the largest magnitude of the array. */
    private static void near(String what, double[] got, double[] want, int n) {
        assertEquals(want.length, got.length, what + " length");
        double scale = 0;
        for (double w : want) scale = Math.max(scale, Math.abs(w));
        double tol = 8.0 * (n + 8) * 0x1p-53 * Math.max(scale, 1.0);
        for (int i = 0; i < want.length; i++) {
            double err = Math.abs(got[i] - want[i]);
            assertTrue(err <= tol, what + "[" + i + "] = " + got[i] + ", C++ reference " + want[i] + " (err " + err
                    + " > tol " + tol + ")");
        }
    }

    private static List<Map<String, double[]>> parse(String text) {
        List<Map<String, double[]>> cases = new ArrayList<>();
        Map<String, double[]> cur = null;
        for (String l : text.split("\n")) {
            String[] f = l.trim().split(" ");
            if (f[0].isEmpty() || f[0].equals("end")) continue;
            if (f[0].equals("case")) {
                cur = new HashMap<>();
                cases.add(cur);
            }
            double[] v = new double[f.length - 1];
            for (int i = 1; i < f.length; i++) v[i - 1] = Double.parseDouble(f[i]);
            cur.put(f[0], v);
        }
        return cases;
    }
}
