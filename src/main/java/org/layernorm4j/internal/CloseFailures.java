package org.layernorm4j.internal;

import java.util.concurrent.ConcurrentHashMap;

/**
 * Failures of frees that {@code close()} could not report (close never throws): the first one per device is kept,
 * so that a later error on that device can name it, and each one is logged once as a warning through {@link
 * System.Logger} (logger {@code org.layernorm4j}). Not API.
 */
public final class CloseFailures {
    private static final ConcurrentHashMap<String, String> FIRST = new ConcurrentHashMap<>();
    private static final System.Logger LOG = System.getLogger("org.layernorm4j");

    private CloseFailures() {}

    /** Records a failed free of {@code what} on {@code device} ("cpu", "cuda:0"). Never throws. */
    public static void record(String device, String what, Throwable error) {
        try {
            String message = what + " on " + device + " failed: " + error;
            FIRST.putIfAbsent(device, message);
            LOG.log(System.Logger.Level.WARNING, "layernorm4j: close could not free memory (given up): " + message);
        } catch (Throwable ignored) {
            // a close must not throw, not even when logging fails
        }
    }

    /** The first failed free recorded on {@code device}, or null. */
    public static String first(String device) {
        return FIRST.get(device);
    }
}
