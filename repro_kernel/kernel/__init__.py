"""The kernel layer: the recorder's hot path, the audit hook, randomness taps, the %repro magics and the comm.

Imports only :mod:`repro_kernel.core` (and the runtime); the comm gets the engine injected."""
