package org.layernorm4j.examples;

import org.layernorm4j.CudaStream;
import org.layernorm4j.DType;
import org.layernorm4j.Device;
import org.layernorm4j.LayerNorm;
import org.layernorm4j.Tensor;

/** The README's CUDA example: compiled everywhere, run where a CUDA device is usable. */
public final class OnCuda {
    private OnCuda() {}

    public static void run() {
        // tag::cuda[]
        if (!Device.cudaAvailable()) throw new IllegalStateException("no CUDA: " + Device.cudaUnavailableReason());
        Device gpu = Device.cuda(0);
        LayerNorm ln = LayerNorm.builder(768).build();
        float[] data = new float[32 * 768];
        for (int i = 0; i < data.length; i++) data[i] = (float) Math.sin(i) + 3;
        try (Tensor x = Tensor.empty(DType.FLOAT32, gpu, 32, 768).copyFrom(data);   // device memory
             Tensor gamma = Tensor.empty(DType.FLOAT32, gpu, 768).fill(1);
             Tensor beta = Tensor.empty(DType.FLOAT32, gpu, 768).fill(0);
             CudaStream stream = CudaStream.create(gpu);
             CudaStream.Scope on = stream.use();                           // this thread's calls on cuda:0 go to `stream`
             LayerNorm.Forward f = ln.forward(x, gamma, beta)) {           // asynchronous
            float[] y = f.output().toFloatArray();                         // reading back waits for the result
            System.out.println("cuda y[0] " + y[0]);
        }
        // end::cuda[]
    }

    public static void main(String[] args) {
        run();
    }
}
