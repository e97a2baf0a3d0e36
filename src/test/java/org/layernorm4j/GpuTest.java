package org.layernorm4j;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Marks a test class or method that needs a usable CUDA device: tagged {@code gpu} (select with
 * {@code -Dgroups=gpu}, leave out with {@code -DexcludedGroups=gpu}) and skipped, with
 * {@link Device#cudaUnavailableReason()} as the reason in the report, where CUDA is unavailable. The reason is
 * printed once so it shows in the Maven log.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@Tag("gpu")
@ExtendWith(GpuTest.Condition.class)
public @interface GpuTest {
    /** Enabled when {@link Device#cudaAvailable()}, else disabled with the probe's reason. */
    final class Condition implements ExecutionCondition {
        private static volatile boolean printed;

        @Override
        public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
            if (Device.cudaAvailable()) {
                return ConditionEvaluationResult.enabled("CUDA available: " + Device.cudaDeviceCount() + " device(s)");
            }
            String reason = "CUDA unavailable: " + Device.cudaUnavailableReason();
            if (!printed) {
                printed = true;
                System.out.println("[GpuTest] skipping GPU tests: " + reason);
            }
            return ConditionEvaluationResult.disabled(reason);
        }
    }
}
