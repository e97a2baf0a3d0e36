package org.layernorm4j;

/**
 * A native call failed after every argument passed the Java checks (for example a path this build or machine
 * cannot serve, or scratch memory that could not be had). Carries the native status code of {@code layernorm4j.h}
 * ({@code LN4J_ERR_*}) and the native message, which names the argument and the value.
 *
 * <p>Bad arguments never reach native code: they are reported before the call as {@link IllegalArgumentException},
 * {@link NullPointerException} or {@link IllegalStateException}, and the caller's buffers stay untouched.
 */
public final class LayerNormException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** {@code LN4J_ERR_INVALID_ARGUMENT}. */
    public static final int INVALID_ARGUMENT = 1;
    /** {@code LN4J_ERR_UNSUPPORTED}: a valid request this build or machine cannot serve. */
    public static final int UNSUPPORTED = 2;
    /** {@code LN4J_ERR_OUT_OF_MEMORY}. */
    public static final int OUT_OF_MEMORY = 3;
    /** {@code LN4J_ERR_CUDA}. */
    public static final int CUDA = 4;
    /** {@code LN4J_ERR_INTERNAL}. */
    public static final int INTERNAL = 5;
    /**
     * {@code LN4J_ERR_ZERO_GAMMA}: a backward from y met an applied gamma of 0 in a column (the message names it).
     * The public calls report it as an {@link IllegalArgumentException} about gamma; the code is named here so that
     * every native status has a name.
     */
    public static final int ZERO_GAMMA = 6;

    /** The native status code (part of the serialized form). */
    private final int status;

    /**
     * A failed native call.
     *
     * @param status native status code
     * @param message native message
     */
    public LayerNormException(int status, String message) {
        super(statusName(status) + ": " + message);
        this.status = status;
    }

    /**
     * The native status code ({@code LN4J_ERR_*}).
     *
     * @return the status code
     */
    public int status() {
        return status;
    }

    /**
     * Name of a status code, e.g. {@code "UNSUPPORTED"}.
     *
     * @param status a native status code
     * @return its name ({@code STATUS_<n>} for an unknown code)
     */
    public static String statusName(int status) {
        switch (status) {
            case 0: return "OK";
            case INVALID_ARGUMENT: return "INVALID_ARGUMENT";
            case UNSUPPORTED: return "UNSUPPORTED";
            case OUT_OF_MEMORY: return "OUT_OF_MEMORY";
            case CUDA: return "CUDA";
            case INTERNAL: return "INTERNAL";
            case ZERO_GAMMA: return "ZERO_GAMMA";
            default: return "STATUS_" + status;
        }
    }
}
