/**
 * LayerNorm4j: layer normalization and RMS normalization for Java on CPU and CUDA kernels.
 *
 * <p>The API is the package {@code org.layernorm4j} ({@link org.layernorm4j.LayerNorm}, {@link org.layernorm4j.RMSNorm},
 * {@link org.layernorm4j.Tensor}, {@link org.layernorm4j.Device}, ...). {@code org.layernorm4j.internal} (the JavaCPP
 * bindings and backends) and {@code org.layernorm4j.cli} (the command line) are not exported.
 */
module org.layernorm4j {
    // Tensor.wrap and Tensor.pointer speak JavaCPP Pointers, so a user of this module reads JavaCPP too.
    requires transitive org.bytedeco.javacpp;
    // Device memory and streams through the JavaCPP CUDA presets (loaded only when a device exists). Optional: a
    // CPU user does not have them (layernorm4j-cuda-platform brings them; on the module path a GPU user also
    // resolves them, e.g. --add-modules org.bytedeco.cuda).
    requires static org.bytedeco.cuda;

    exports org.layernorm4j;

    // JavaCPP's Loader inspects the binding classes and loads their natives reflectively.
    opens org.layernorm4j.internal to org.bytedeco.javacpp;
}
