"""Random state of every RNG a notebook may draw from: fingerprint, save, restore.

Sources are looked up in ``sys.modules`` only: the recorder never imports a framework the user has not
imported, and never initialises CUDA. A fingerprint is a short digest of the full state, cheap enough to take
before and after every cell; the full state is serialised only when it changed since it was last stored.
"""

from __future__ import annotations

import base64
import functools
import json
import sys
from collections.abc import Callable
from typing import Any, Optional

import blake3

SOURCES = ("python", "numpy", "torch", "torch_cuda", "tensorflow")
Faults = list[tuple[str, BaseException]]  # (source, what reading it raised)


def _py_state() -> Any:
    import random

    return random.getstate()


def _py_fingerprint(state: Any) -> str:
    return format(hash(state) & 0xFFFFFFFFFFFFFFFF, "016x")


def _np_state() -> Any:
    np = sys.modules["numpy"]
    return np.random.get_state(legacy=False)


def _np_fingerprint(state: Any) -> str:
    inner = state["state"]
    digest = blake3.blake3(inner["key"].tobytes())
    digest.update(f"{inner['pos']}:{state['has_gauss']}:{state['gauss']!r}".encode())
    return digest.hexdigest()[:16]


def _torch_state() -> Any:
    return sys.modules["torch"].random.get_rng_state()


def _torch_fingerprint(state: Any) -> str:
    return blake3.blake3(state.numpy().tobytes()).hexdigest()[:16]


def _torch_cuda_ready() -> bool:
    torch = sys.modules.get("torch")
    try:
        return bool(torch is not None and torch.cuda.is_initialized())
    except Exception:
        return False


def _torch_cuda_state() -> Any:
    return sys.modules["torch"].cuda.get_rng_state_all()


def _torch_cuda_fingerprint(state: Any) -> str:
    digest = blake3.blake3()
    for item in state:
        digest.update(item.cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def _tf_state() -> Any:
    tf = sys.modules["tensorflow"]
    gen = tf.random.get_global_generator()
    return gen.state.numpy()


def _tf_fingerprint(state: Any) -> str:
    return blake3.blake3(state.tobytes()).hexdigest()[:16]


def _loaded(name: str) -> Callable[[], bool]:
    return lambda: name in sys.modules


# source -> (is loaded?, read state, fingerprint)
_READERS: dict[str, tuple[Callable[[], bool], Callable[[], Any], Callable[[Any], str]]] = {
    "python": (_loaded("random"), _py_state, _py_fingerprint),
    "numpy": (
        lambda: "numpy.random" in sys.modules,
        _np_state,
        _np_fingerprint,
    ),
    "torch": (_loaded("torch"), _torch_state, _torch_fingerprint),
    "torch_cuda": (_torch_cuda_ready, _torch_cuda_state, _torch_cuda_fingerprint),
    "tensorflow": (_loaded("tensorflow"), _tf_state, _tf_fingerprint),
}


def capture(faults: Optional[Faults] = None) -> dict[str, tuple[Any, str]]:
    """Return ``{source: (state, fingerprint)}`` for every loaded source; a source that cannot be read (a
    half-imported framework, a patched ``random.getstate``) is left out, and noted in ``faults``."""
    found: dict[str, tuple[Any, str]] = {}
    for source, (loaded, read, fingerprint) in _READERS.items():
        try:
            if loaded():
                state = read()
                found[source] = (state, fingerprint(state))
        except Exception as exc:  # must never break the user's cell
            if faults is not None:
                faults.append((source, exc))
    return found


_MT19937_STATE_BYTES = 624 * 4 + 4  # uint32 key[624]; int pos


class _NumpyGlobalMark:
    """Reads NumPy's global ``RandomState`` in place, in about a microsecond, instead of building its
    state dict (tens of microseconds): the MT19937 key and position, and the legacy cached Gaussian.

    The cached Gaussian lives in the RandomState object itself, next to a pointer back to its own
    ``bitgen_t``; its offset is found once per object by that pointer and checked against ``get_state``.
    When the layout is not the one expected, the mark is None and callers fall back to a full read.
    """

    def __init__(self) -> None:
        self.owner: Any = None
        self.state_address = 0
        self.gauss_offset: Optional[int] = None

    def _locate(self, rand: Any) -> None:
        import ctypes
        import struct

        self.owner, self.gauss_offset = rand, None
        bitgen = rand._bit_generator
        if type(bitgen).__name__ != "MT19937":
            return
        self.state_address = bitgen.ctypes.state_address
        base, size = id(rand), sys.getsizeof(rand)
        raw = ctypes.string_at(base, size)
        words = {off: struct.unpack_from("Q", raw, off)[0] for off in range(0, size - 7, 8)}
        own = [off for off, word in words.items() if word == self.state_address]
        for off, word in words.items():
            # aug_bitgen_t {bitgen_t *bit_generator; int has_gauss; double gauss}
            if own and word == base + own[0] and off + 24 <= size:
                state = rand.get_state(legacy=False)
                has_gauss = struct.unpack_from("i", raw, off + 8)[0]
                gauss = struct.unpack_from("d", raw, off + 16)[0]
                if has_gauss == state["has_gauss"] and gauss == state["gauss"]:
                    self.gauss_offset = off + 8
                return

    def __call__(self) -> Optional[int]:
        np = sys.modules.get("numpy")
        try:
            rand = np.random.mtrand._rand  # type: ignore[union-attr]
        except AttributeError:
            return None
        if rand is not self.owner:
            try:
                self._locate(rand)
            except Exception:
                self.gauss_offset = None
        if self.gauss_offset is None:
            return None
        import ctypes

        return hash(
            ctypes.string_at(self.state_address, _MT19937_STATE_BYTES)
            + ctypes.string_at(id(rand) + self.gauss_offset, 16)
        )


_np_mark = _NumpyGlobalMark()


def marks(faults: Optional[Faults] = None) -> dict[str, Any]:
    """Cheap marks of every loaded source: if none changed since :func:`capture`, its result still holds.

    A None mark means "cannot tell cheaply": :func:`same_marks` then says they differ. A source that cannot
    be read is noted in ``faults``.
    """
    found: dict[str, Any] = {}
    if "random" in sys.modules:
        try:
            found["python"] = hash(_py_state())
        except Exception as exc:
            found["python"] = None
            if faults is not None:
                faults.append(("python", exc))
    if "numpy.random" in sys.modules:
        found["numpy"] = _np_mark()
    for source in ("torch", "torch_cuda", "tensorflow"):
        loaded, read, fingerprint = _READERS[source]
        try:
            if loaded():
                found[source] = fingerprint(read())
        except Exception as exc:
            found[source] = None
            if faults is not None:
                faults.append((source, exc))
    return found


def same_marks(a: Optional[dict[str, Any]], b: Optional[dict[str, Any]]) -> bool:
    return a is not None and a == b and None not in a.values()


def fingerprints() -> dict[str, str]:
    return {source: fp for source, (_state, fp) in capture().items()}


def initial_state(source: str) -> Optional[tuple[Any, str]]:
    """The state ``source`` had right after it was imported, rebuilt from what it keeps of its seeding;
    (state, fingerprint), or None when it cannot be known (e.g. NumPy's global state was re-seeded since).

    A framework imported *inside* a cell has no state "before the cell"; this is the one it started with, and
    restoring it before the replayed step (which then imports the already-imported module) reproduces draws
    made right after the import.
    """
    try:
        if source == "numpy":
            np = sys.modules["numpy"]
            seed_seq = getattr(np.random.mtrand._rand._bit_generator, "seed_seq", None)
            if seed_seq is None:
                return None
            fresh = np.random.MT19937(np.random.SeedSequence(seed_seq.entropy)).state
            state = {"bit_generator": "MT19937", "state": fresh["state"], "has_gauss": 0, "gauss": 0.0}
            return state, _np_fingerprint(state)
        if source == "torch":
            torch = sys.modules["torch"]
            generator = torch.Generator()
            generator.manual_seed(torch.initial_seed())
            state = generator.get_state()
            return state, _torch_fingerprint(state)
    except Exception:
        return None
    return None


# -- serialisation ---------------------------------------------------------------------------------------


def serialize(source: str, state: Any) -> bytes:
    """Turn a state returned by :func:`capture` into canonical JSON bytes (content-addressable)."""
    if source == "python":
        version, internal, gauss = state
        payload: Any = [version, list(internal), gauss]
    elif source == "numpy":
        inner = state["state"]
        payload = {
            "bit_generator": state["bit_generator"],
            "key": inner["key"].tolist(),
            "pos": int(inner["pos"]),
            "has_gauss": int(state["has_gauss"]),
            "gauss": float(state["gauss"]),
        }
    elif source == "torch":
        payload = base64.b64encode(state.numpy().tobytes()).decode("ascii")
    elif source == "torch_cuda":
        payload = [base64.b64encode(s.cpu().numpy().tobytes()).decode("ascii") for s in state]
    elif source == "tensorflow":
        payload = state.tolist()
    else:
        raise ValueError(f"unknown random source {source!r}")
    return json.dumps({"source": source, "state": payload}, separators=(",", ":")).encode("ascii")


# Restoring lives in the replay runtime (which an exported folder carries without jupyter-repro installed);
# the recorder's tests and tools use that one implementation.
from repro_kernel import runtime  # noqa: E402
from repro_kernel.runtime import restore_random_state as restore  # noqa: E402, F401  (re-exported)


class DefaultRngTap:
    """Notes the entropy of every ``numpy.random.default_rng()`` call, in call order, while a cell runs.

    ``default_rng()`` with no seed draws fresh entropy from the OS, which nothing can read back from the
    generator once it is created inline (``np.random.default_rng().normal()``). The tap wraps the function:
    an unseeded call gets a ``SeedSequence`` made here, whose entropy is recorded, and the generator is
    exactly the one the original call would have built from that entropy. The replay hands the same
    entropy back in the same order.

    The wrapper wears the original's face (``functools.wraps``: name, qualified name, module, docstring,
    ``__wrapped__``, hence ``inspect.signature`` and ``help()``), and stands in every module attribute that
    held the original, so pickling it by reference (``pickle``, ``multiprocessing``, joblib) finds it where
    its ``__module__`` and ``__qualname__`` say, and a worker process gets NumPy's own function.
    """

    def __init__(self) -> None:
        self.calls: Optional[list[dict[str, Any]]] = None
        self.original: Any = None
        self.wrapper: Any = None
        self._homes: list[Any] = []  # the modules whose attribute now holds the wrapper

    def install(self, namespace: Optional[dict[str, Any]] = None) -> bool:
        """Wrap ``numpy.random.default_rng`` if NumPy is imported; True once the wrapper is in place."""
        np_random: Any = sys.modules.get("numpy.random")  # numpy's own module (ModuleType has no default_rng)
        if np_random is None:
            return False
        current = getattr(np_random, "default_rng", None)
        if current is None:
            return False
        if current is self.wrapper:
            return True
        original, tap = current, self
        seed_sequence = np_random.SeedSequence

        @functools.wraps(original)
        def default_rng(*args: Any, **kwargs: Any) -> Any:
            calls = tap.calls
            if calls is not None:
                seed = args[0] if args else kwargs.get("seed")
                if seed is None:
                    seed = seed_sequence()
                    calls.append({"kind": "numpy.default_rng", "seeded": False, "entropy": str(seed.entropy)})
                    if args:
                        args = (seed, *args[1:])
                    else:
                        kwargs["seed"] = seed
                else:
                    value = seed if isinstance(seed, int) else None
                    calls.append(
                        {"kind": "numpy.default_rng", "seeded": True,
                         "entropy": None if value is None else str(value)}
                    )
            return original(*args, **kwargs)

        self.original, self.wrapper = original, default_rng
        self._homes = [np_random]
        home = sys.modules.get(getattr(original, "__module__", None) or "")
        name = getattr(original, "__qualname__", "default_rng")
        if home is not None and home is not np_random and getattr(home, name, None) is original:
            self._homes.append(home)  # where pickle looks it up (numpy.random._generator in older NumPy)
        # Libraries that took the name already (`from numpy.random import default_rng` at import, as arch does):
        # once, when the tap goes in; a library imported later takes the wrapper itself.
        self._homes += [module for module_name, module in list(sys.modules.items())
                        if not module_name.startswith("numpy")
                        and getattr(module, "__dict__", {}).get("default_rng") is original]
        for module in self._homes:
            setattr(module, "default_rng" if module is np_random else name, default_rng)
        self._rebind(namespace, original, default_rng)
        return True

    def uninstall(self, namespace: Optional[dict[str, Any]] = None) -> None:
        name = getattr(self.original, "__qualname__", "default_rng")
        for module in self._homes:
            attribute = "default_rng" if module is sys.modules.get("numpy.random") else name
            if getattr(module, attribute, None) is self.wrapper:
                setattr(module, attribute, self.original)
        self._homes = []
        self._rebind(namespace, self.wrapper, self.original)
        self.calls = None

    @staticmethod
    def _rebind(namespace: Optional[dict[str, Any]], old: Any, new: Any) -> None:
        """Names bound by ``from numpy.random import default_rng`` follow the swap."""
        if namespace is None or old is None:
            return
        for name, value in list(namespace.items()):
            if value is old:
                namespace[name] = new


def generator_facts(value: Any) -> Optional[dict[str, Any]]:
    """Describe a NumPy ``Generator`` / ``RandomState`` / ``random.Random`` object, or None."""
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(value, np.random.Generator):
            seed_seq = getattr(value.bit_generator, "seed_seq", None)
            entropy = getattr(seed_seq, "entropy", None)
            return {
                "kind": "numpy.Generator",
                "bit_generator": type(value.bit_generator).__name__,
                "entropy": None if entropy is None else str(entropy),
                "spawn_key": list(getattr(seed_seq, "spawn_key", ()) or ()),
            }
        if isinstance(value, np.random.RandomState):
            return {"kind": "numpy.RandomState", "entropy": None}
    import random

    if isinstance(value, random.Random) and not isinstance(value, random.SystemRandom):
        return {"kind": "random.Random", "entropy": None}
    return None


def _plain(value: Any) -> Any:
    """A bit generator's state as JSON values (NumPy arrays and integers become lists and ints)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value.tolist() if hasattr(value, "tolist") else value


def held_state(value: Any) -> Optional[bytes]:
    """The state of a generator a variable holds, as canonical JSON for :func:`runtime.restore_random_state`
    with that variable as its target; None for anything else, or when the state cannot be read."""
    try:
        np = sys.modules.get("numpy")
        torch = sys.modules.get("torch")
        if np is not None and isinstance(value, np.random.Generator):
            source, payload = "numpy.Generator", _plain(value.bit_generator.state)
        elif np is not None and isinstance(value, np.random.RandomState):
            state = value.get_state(legacy=False)
            payload = json.loads(serialize("numpy", state))["state"]
            source = "numpy.RandomState"
        elif torch is not None and isinstance(value, torch.Generator) and value.device.type == "cpu":
            source, payload = "torch.Generator", base64.b64encode(value.get_state().numpy().tobytes()).decode("ascii")
        else:
            import random

            if not isinstance(value, random.Random) or isinstance(value, random.SystemRandom):
                return None
            version, internal, gauss = value.getstate()
            source, payload = "random.Random", [version, list(internal), gauss]
        return json.dumps({"source": source, "state": payload}, separators=(",", ":")).encode("ascii")
    except Exception:
        return None


def seed_all(seed: int) -> list[str]:
    """Seed every loaded RNG with ``seed``; return the sources seeded (the replay runs the same code)."""
    return runtime.seed_all(seed, say=False)
