package org.layernorm4j;

import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;

/** Devices are canonical: asking again (e.g. every training step) builds nothing new, so nothing leaks. */
class DeviceCanonicalTest {
    @Test
    void cudaDevicesAndBestAreTheSameObjectEveryTime() {
        for (int n : new int[] {0, 1, 7}) {
            Device d = Device.cuda(n);
            assertSame(d, Device.cuda(n));
            assertSame(d.backend(), Device.cuda(n).backend(), "one backend (and one set of workspaces) per ordinal");
        }
        assertSame(Device.best(), Device.best());
        assertSame(Device.best(), Device.cudaAvailable() ? Device.cuda(0) : Device.cpu());
    }
}
