"""The replay runtime, copied verbatim into every export as ``repro_replay.py``: ``replay.py``, ``replay.ipynb``
and ``jupyter repro verify`` drive it, so it imports only the standard library (NumPy, torch, TensorFlow, blake3
and time-machine only when the replay has them).

Before each step it checks the hash of every input file the step read (stopping with a message naming the file
and both hashes), restores every random state recorded *before* that execution (``random``, NumPy, torch,
TensorFlow, and generators held in variables), hands unseeded ``default_rng()`` calls their recorded entropy
and sets the clock to the instant the execution started. Once per run it honours the recorded hash seed, moves
to the recorded working directory, and refuses plain ``python`` for IPython syntax. An export may come from
someone else: only regular files are opened (a FIFO must not hang the replay), no bundled file is read through
a link out of the folder, the folder stays off the import path, and a digest is printed only for a file inside
the project (:func:`project_root`).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any, Optional

RUNTIME_VERSION = 1
MANIFEST_NAME = "manifest.json"
RANDOM_STATES = "random-states.jsonl"
_HOOK_GLOBAL = "_repro_replay_runtime"


class ReplayError(RuntimeError):
    """A replay cannot go on; the message says why and what to do."""


class InputChangedError(ReplayError):
    """An input file's content differs from what the recorded session read."""


class NotRegularFileError(OSError):
    """A path names a folder, FIFO, socket, device or (where links are refused) a symbolic link."""


# -- safe reading -----------------------------------------------------------------------------------------
def _kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISLNK, "a symbolic link"))
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def open_regular(path: Path | str, *, follow_symlinks: bool = True) -> Any:
    """``path`` opened for binary reading, only when it is a regular file (:class:`NotRegularFileError`
    otherwise). Opening never blocks (a FIFO is refused, not waited on); with ``follow_symlinks=False`` a
    symbolic link is refused too."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise NotRegularFileError(errno.ELOOP, "a symbolic link, not a regular file", str(path)) from None
        try:  # a socket or a device without a driver fails to open at all: say what it is
            mode = os.stat(path, follow_symlinks=follow_symlinks).st_mode
        except OSError:
            raise exc from None
        if stat.S_ISREG(mode):
            raise
        raise NotRegularFileError(errno.EINVAL, f"{_kind(mode)}, not a regular file", str(path)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(errno.EINVAL, f"{_kind(mode)}, not a regular file", str(path))
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def within(root: Path | str, path: Path | str) -> bool:
    """True when ``path``, links followed, lies inside ``root`` (links followed) or is ``root`` itself."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def project_root(folder: Path | str) -> Path:
    """The project an export folder belongs to: the git work tree that holds it, else the folder it sits in.
    Digests of files outside it are never printed: a manifest may name any file (``/etc/passwd``, a key)."""
    folder = Path(os.path.realpath(folder))
    for parent in folder.parents:
        if os.path.lexists(parent / ".git"):
            return parent
    return folder.parent


def clean_relative(relative: str) -> Optional[str]:
    """``relative`` as a normalised relative POSIX path that stays inside any folder it is joined to, or None
    (absolute, empty, climbing out with ``..``)."""
    if not isinstance(relative, str) or not relative or "\0" in relative:
        return None
    normal = os.path.normpath(relative)
    if os.path.isabs(normal) or normal in (os.curdir, os.pardir) or normal.startswith(os.pardir + os.sep):
        return None
    return normal


# -- hashing (BLAKE3 when available, SHA-256 from the standard library otherwise) ----------------------
def _blake3() -> Any:
    try:
        import blake3  # type: ignore[import-not-found]
    except ImportError:
        return None
    return blake3.blake3


def file_digest(path: Path | str, algorithm: str) -> str:
    """``algorithm:hex`` digest of a file in constant memory, the project's one chunked file digest: ``blake3``
    (large files through mmap and several threads) or a :mod:`hashlib` name (``sha256``, ``md5`` for DVC). Only
    a regular file is read: a folder, FIFO or device raises :class:`NotRegularFileError` (an ``OSError``)."""
    if algorithm == "blake3":
        factory = _blake3()
        if factory is None:
            raise ReplayError("blake3 is not installed; pip install blake3")
    with open_regular(path) as handle:
        if algorithm == "blake3":
            size = os.fstat(handle.fileno()).st_size
            hasher = factory(max_threads=factory.AUTO if size > (64 << 20) else 1)
            if size > (16 << 20):
                import mmap

                with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                    hasher.update(mapped)
                return f"blake3:{hasher.hexdigest()}"
        else:
            hasher = hashlib.new(algorithm)
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            hasher.update(chunk)
    return f"{algorithm}:{hasher.hexdigest()}"


# -- random states ----------------------------------------------------------------------------------------
def restore_random_state(blob: bytes | dict[str, Any], target: Any = None) -> str:
    """Set the RNG described by ``blob`` (jupyter-repro's canonical JSON, or it parsed) to that state; return
    its source. ``target`` is a generator a variable holds (``numpy.Generator``, ``RandomState``,
    ``random.Random``, ``torch.Generator``); without it the global state of the source is set."""
    data = blob if isinstance(blob, dict) else json.loads(blob)
    source, payload = data["source"], data["state"]
    if source in ("python", "random.Random"):
        import random

        (target or random).setstate((payload[0], tuple(payload[1]), payload[2]))
    elif source in ("numpy", "numpy.RandomState"):
        import numpy as np

        key = np.array(payload["key"], dtype=np.uint32)
        (target or np.random).set_state((payload["bit_generator"], key, payload["pos"], payload["has_gauss"],
                                         payload["gauss"]))
    elif source == "numpy.Generator":
        target.bit_generator.state = payload
    elif source in ("torch", "torch.Generator"):
        import numpy as np
        import torch  # type: ignore[import-not-found]

        raw = torch.from_numpy(np.frombuffer(base64.b64decode(payload), dtype=np.uint8).copy())
        target.set_state(raw) if target is not None else torch.random.set_rng_state(raw)
    elif source == "torch_cuda":
        import numpy as np
        import torch  # type: ignore[import-not-found]

        if torch.cuda.is_available():
            states = [torch.from_numpy(np.frombuffer(base64.b64decode(p), dtype=np.uint8).copy()) for p in payload]
            torch.cuda.set_rng_state_all(states[: torch.cuda.device_count()])
    elif source == "tensorflow":
        import tensorflow as tf  # type: ignore[import-not-found]

        tf.random.get_global_generator().reset(payload)
    else:
        raise ReplayError(f"unknown random source {source!r}; upgrade the replay runtime")
    return source


_HELD_TYPES = {"numpy.Generator": "Generator", "numpy.RandomState": "RandomState", "random.Random": "Random",
               "torch.Generator": "Generator"}


def _holds(value: Any, source: str) -> bool:
    """Whether ``value`` is the kind of generator a held state of ``source`` was read from."""
    return any(cls.__name__ == _HELD_TYPES.get(source) for cls in type(value).__mro__)


class _Clock:
    """Each step runs with the clock at the instant its execution started when recorded, moving on from there
    (time-machine patches ``time`` and ``datetime`` at C level); without time-machine the clock is the replay's."""

    travel: Any = None
    missing = False

    def set(self, started_at: Optional[float]) -> None:
        self.stop()
        if started_at is None or self.missing:
            return
        try:
            import time_machine  # type: ignore[import-not-found]
        except ImportError:
            self.missing = True
            print("[repro] note: time-machine is not installed, so the steps run on today's clock "
                  "(`pip install time-machine` brings back the recorded dates)", file=sys.stderr)
            return
        self.travel = time_machine.travel(float(started_at), tick=True)
        self.travel.start()

    def stop(self) -> None:
        if self.travel is not None:
            travel, self.travel = self.travel, None
            travel.stop()


def code_key(code: str) -> str:
    """SHA-256 of a step's code as the manifest stores it (surrounding blank lines and trailing spaces dropped)."""
    text = code.strip("\n").rstrip() + "\n"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class _EntropyQueue:
    """Hands recorded entropy to unseeded ``numpy.random.default_rng()`` calls, in order: from the first step on
    when any step drew some, and in every module holding the original (a library's ``from numpy.random import``)."""

    def __init__(self, wanted: bool = False) -> None:
        self.pending: list[int] = []
        self.original: Any = None
        self.wanted = wanted

    def install(self) -> None:
        if self.original is not None:
            return
        import numpy as np

        self.original = original = np.random.default_rng
        queue = self

        def default_rng(seed: Any = None) -> Any:
            if seed is None and queue.pending:
                return original(np.random.SeedSequence(queue.pending.pop(0)))
            return original(seed)

        default_rng.__doc__, default_rng.__wrapped__ = original.__doc__, original  # type: ignore[attr-defined]
        np.random.default_rng = self.wrapper = default_rng
        for name, module in list(sys.modules.items()):  # libraries imported before, NumPy's own modules aside
            if not name.startswith("numpy") and getattr(module, "__dict__", {}).get("default_rng") is original:
                vars(module)["default_rng"] = default_rng

    def rebind(self, namespace: Optional[dict[str, Any]]) -> None:
        """Names bound to the original (``from numpy.random import default_rng``) get the wrapper too."""
        for name, value in list((namespace or {}).items()) if self.original is not None else ():
            if value is self.original:
                namespace[name] = self.wrapper  # type: ignore[index]


# -- output hash (the recorder's definition, so replayed outputs compare with recorded hashes) -----------
_REPR_LIMIT = 10_000
_INT_BITS_LIMIT = 33_300  # an int of more bits has more than 10,000 decimal digits


def short_repr(value: Any) -> Optional[str]:
    """The recorder's and the replay's repr of a result (``core.hashing`` imports it): ``repr(value)`` when
    shorter than 10,000 characters, else (or when it raises) None. Exact strings, bytes and ints surely too long
    are never converted (that would cost time in proportion to their size); a subclass's ``__repr__`` is asked."""
    kind = type(value)
    if (kind is str or kind is bytes) and len(value) >= _REPR_LIMIT:
        return None
    if kind is int and value.bit_length() > _INT_BITS_LIMIT:
        return None
    try:
        text = repr(value)
        return text if len(text) < _REPR_LIMIT else None
    except Exception:
        return None


def hash_display(hasher: Any, msg: dict[str, Any]) -> None:
    """Feed one display message's mime bundle into ``hasher`` (mime order): the recorder's definition, shared."""
    data = msg.get("content", {}).get("data", {})
    for mime in sorted(data):
        value = data[mime]
        hasher.update(mime.encode())
        hasher.update(value.encode("utf-8", "surrogatepass") if isinstance(value, str) else repr(value).encode())


class _OutputHasher:
    def __init__(self) -> None:
        factory = _blake3()
        self.factory = factory
        self.display: Any = None

    def on_display(self, msg: dict[str, Any]) -> dict[str, Any]:
        if self.factory is not None:
            self.display = self.factory() if self.display is None else self.display
            hash_display(self.display, msg)
        return msg

    def finish(self, value: Any) -> Optional[str]:
        if self.factory is None:
            return None
        parts: list[bytes] = []
        if self.display is not None:
            parts.append(self.display.digest())
        if value is not None:
            text = short_repr(value) if isinstance(value, (int, float, str, bool, bytes)) else None
            text = f"<{type(value).__module__}.{type(value).__qualname__}>" if text is None else text
            parts.append(text.encode("utf-8", "surrogatepass"))
        self.display = None
        return "blake3:" + self.factory(b"\0".join(parts)).hexdigest() if parts else None


# -- the runtime ---------------------------------------------------------------------------------------------
class Replay:
    """One exported folder, replayed step by step."""

    def __init__(self, folder: os.PathLike[str] | str) -> None:
        self.folder = Path(folder).resolve()
        self.guard_import_path()
        manifest_path = self.folder / MANIFEST_NAME
        try:
            with open_regular(manifest_path, follow_symlinks=False) as handle:
                self.manifest: dict[str, Any] = json.loads(handle.read().decode("utf-8"))
        except (OSError, ValueError) as exc:
            raise ReplayError(f"cannot read {manifest_path} ({exc}); export the notebook again") from exc
        self.steps = {int(s["index"]): s for s in self.manifest.get("steps", [])}
        self.order = sorted(self.steps)
        self.workdir = (self.folder / self.manifest.get("replay", {}).get("workdir", ".")).resolve()
        self.inputs = {i["id"]: i for i in self.manifest.get("inputs", [])}
        self.entropy = _EntropyQueue(any(g.get("entropy") for s in self.steps.values() for g in s.get("generators", [])))
        self.hasher = _OutputHasher()
        self.clock = _Clock()
        self.results: dict[int, dict[str, Any]] = {}
        self.current: Optional[int] = None
        self._pointer = 0
        self._code_index: dict[str, list[int]] = {}
        for index in self.order:
            digest = self.steps[index].get("replay_code_sha256")
            if digest:
                self._code_index.setdefault(digest, []).append(index)
        self._shell: Any = None
        self._pending_code: Optional[str] = None
        self._states: Optional[dict[str, dict[str, Any]]] = None

    # -- once per run ------------------------------------------------------------------------------------

    def hash_seed(self) -> Optional[str]:
        return self.manifest.get("hash_seed")

    def hash_seed_ok(self) -> bool:
        return self.hash_seed() in (None, os.environ.get("PYTHONHASHSEED"))

    def enter_workdir(self) -> None:
        if not self.workdir.is_dir():
            raise ReplayError(f"the replay's working directory {self.workdir} does not exist; export with "
                              "--bundle-data or keep the folder beside the notebook's data")
        os.chdir(self.workdir)
        self.guard_import_path()
        # Modules of the notebook's own folder stay importable, after the environment's.
        if str(self.workdir) not in sys.path:
            sys.path.append(str(self.workdir))

    def guard_import_path(self) -> None:
        """Take the export folder off the import path (``''`` counts as the working directory): a module
        dropped into the export must never shadow a library the steps import."""
        sys.path[:] = [p for p in sys.path if not within(self.folder, p or os.curdir)]

    # -- before each step ----------------------------------------------------------------------------------

    def check_inputs(self, index: int) -> None:
        for input_id in self.steps[index].get("inputs", []):
            item = self.inputs.get(input_id)
            if item is None:
                continue
            path = self.input_path(item)
            if not os.path.lexists(path):
                raise InputChangedError(f"step {index}: input {item['path']} is missing (expected at {path}, "
                                        f"recorded {item['hash']}); restore it or export with --bundle-data")
            algorithm = "blake3" if _blake3() is not None or not item.get("sha256") else "sha256"
            expected = item["hash"] if algorithm == "blake3" else item["sha256"]
            try:
                actual = file_digest(path, algorithm)
            except OSError as exc:
                raise InputChangedError(
                    f"step {index}: input {item['path']} cannot be read ({exc.strerror or exc}); restore the "
                    "recorded file"
                ) from None
            if actual != expected:
                now = actual if within(project_root(self.folder), path) else "other content (not shown: outside the project)"
                raise InputChangedError(f"step {index}: input {item['path']} changed since it was recorded: recorded "
                                        f"{expected}, now {now}; restore the recorded file (or re-record the "
                                        "notebook on the new data)")

    def input_path(self, item: dict[str, Any]) -> Path:
        """Where an input is read: a bundled copy never outside the folder, a relative path never above the
        working directory."""
        if item.get("bundled"):
            bundled = clean_relative(item["bundled"])
            if bundled is None or not within(self.folder, self.folder / bundled):
                raise ReplayError(f"input {item.get('path')}: its bundled copy {item['bundled']!r} lies outside "
                                  f"{self.folder}; export the notebook again")
            return self.folder / bundled
        if item.get("rel") is not None:
            rel = clean_relative(item["rel"])
            if rel is None:
                raise ReplayError(f"input {item.get('path')}: {item['rel']!r} is not a path inside the working "
                                  "directory; export the notebook again")
            return self.workdir / rel
        return Path(item["abspath"])

    def random_states(self) -> dict[str, dict[str, Any]]:
        """The recorded random states by reference, read once from ``random-states.jsonl``."""
        if self._states is None:
            self._states = {}
            path = self.folder / RANDOM_STATES
            if os.path.lexists(path):
                with open_regular(path, follow_symlinks=False) as handle:
                    for line in handle:
                        if line.strip():
                            item = json.loads(line.decode("ascii"))
                            self._states[item["ref"]] = item["state"]
        return self._states

    def restore_random(self, index: int, namespace: Optional[dict[str, Any]] = None) -> None:
        step = self.steps[index]
        for source, ref in sorted(step.get("random", {}).items()):
            # "var:NAME": the state of a generator the variable NAME held before the step, set in place.
            target = (namespace or {}).get(source[4:]) if source.startswith("var:") else None
            if not ref or (source == "torch_cuda" and "torch" not in sys.modules) or (
                    source.startswith("var:") and target is None):
                continue
            blob = self.random_states().get(ref)
            if blob is None:
                raise ReplayError(f"step {index}: random state {ref[:12]} is missing from {RANDOM_STATES}; "
                                  "export again")
            if target is None or _holds(target, blob.get("source", "")):
                restore_random_state(blob, target)
        entropies = [int(g["entropy"]) for g in step.get("generators", []) if g.get("entropy") is not None]
        self.entropy.pending = entropies
        if entropies or self.entropy.original is not None or self.entropy.wanted:
            self.entropy.install()
            self.entropy.rebind(namespace)

    def step(self, index: int, namespace: Optional[dict[str, Any]] = None) -> None:
        """Prepare step ``index``: check its inputs, restore its random states, set its clock."""
        if index not in self.steps:
            raise ReplayError(f"no step {index} in {self.folder / MANIFEST_NAME}")
        self.current = index
        self.clock.stop()
        self.check_inputs(index)
        self.restore_random(index, namespace)
        self.clock.set(self.steps[index].get("started_at"))

    # -- in a script ---------------------------------------------------------------------------------------

    def run_cell(self, index: int, code: str, namespace: dict[str, Any]) -> None:
        """Run a step that raised when recorded: the replay expects the same exception and goes on."""
        expected = self.steps[index].get("error")
        try:
            exec(compile(code, f"<step {index}>", "exec"), namespace)
        except Exception as exc:
            if expected and type(exc).__name__ == expected:
                print(f"[repro] step {index} raised {expected}, as it did when recorded", file=sys.stderr)
                return
            raise
        if expected:
            print(f"[repro] step {index} raised {expected} when recorded but not in this replay", file=sys.stderr)

    # -- in IPython (replay.ipynb, verify) -----------------------------------------------------------------

    def install(self, shell: Any) -> None:
        """Prepare each step automatically before its cell runs (matched by its code, in run order).

        The check runs as an IPython input transformer, so a changed input stops the cell before any of its
        code runs (an exception in a ``pre_run_cell`` callback would only be printed).
        """
        old = shell.user_ns.get(_HOOK_GLOBAL)
        if isinstance(old, Replay):
            old.uninstall(shell)
        shell.user_ns[_HOOK_GLOBAL] = self
        self._shell = shell
        shell.input_transformers_cleanup.append(self._transformer)
        shell.events.register("post_run_cell", self._post_run_cell)
        pub = getattr(shell, "display_pub", None)
        if pub is not None and hasattr(pub, "register_hook"):
            pub.register_hook(self.hasher.on_display)

    def uninstall(self, shell: Any) -> None:
        if self._transformer in shell.input_transformers_cleanup:
            shell.input_transformers_cleanup.remove(self._transformer)
        with contextlib.suppress(ValueError):
            shell.events.unregister("post_run_cell", self._post_run_cell)
        pub = getattr(shell, "display_pub", None)
        if pub is not None and hasattr(pub, "unregister_hook"):
            with contextlib.suppress(ValueError):
                pub.unregister_hook(self.hasher.on_display)

    def match(self, code: str) -> Optional[int]:
        """The step whose code is ``code``: the next one in run order, else the first."""
        candidates = self._code_index.get(code_key(code), [])
        for index in candidates:
            if self.order.index(index) >= self._pointer:
                return index
        return candidates[0] if candidates else None

    def _transformer(self, lines: list[str]) -> list[str]:
        code = "".join(lines)
        if self.current is not None and code == self._pending_code:
            return lines  # IPython transforms a cell more than once before running it
        self._pending_code = code
        index = self.match(code)
        self.hasher.display = None
        self.current = index
        if index is not None:
            self._pointer = self.order.index(index) + 1
            self.step(index, self._shell.user_ns)
        return lines

    _transformer.has_side_effects = True  # type: ignore[attr-defined]  # keeps it out of is_complete checks

    def _post_run_cell(self, result: Any) -> None:
        index = self.current
        self._pending_code = None
        self.clock.stop()
        if index is None:
            return
        error = result.error_in_exec or result.error_before_exec
        self.results[index] = {
            "status": "error" if error is not None else "ok",
            "error": type(error).__name__ if error is not None else None,
            "output_hash": self.hasher.finish(getattr(result, "result", None)),
        }
        self.current = None

    def report(self) -> str:
        """What the replay saw per step, as JSON (verify reads it through user_expressions)."""
        return json.dumps({str(k): v for k, v in self.results.items()})


def seed_all(seed: int, say: bool = True) -> list[str]:
    """``%repro seed N`` (the magic's one definition, and its replay): seed every loaded RNG, return the sources
    seeded and, with ``say``, print the line the magic printed, so that a seeded session verifies."""
    import random

    random.seed(seed)
    seeded = ["python"]
    calls = {"numpy": lambda m: m.random.seed(seed % 2**32), "torch": lambda m: m.manual_seed(seed),
             "torch_cuda": lambda m: m.cuda.is_initialized() and m.cuda.manual_seed_all(seed) is None,
             "tensorflow": lambda m: m.random.set_seed(seed)}
    for source, call in calls.items():
        module = sys.modules.get(source.split("_")[0])
        with contextlib.suppress(Exception):  # a framework that cannot seed here is left out, as when recorded
            if module is not None and call(module) is not False:
                seeded.append(source)
    if say:
        print(f"jupyter-repro: seeded {', '.join(seeded)} with {seed}")
    return seeded


def _under_ipython() -> bool:
    return getattr(__import__("builtins"), "get_ipython", lambda: None)() is not None


def start(script: str) -> Replay:
    """Called at the top of ``replay.py``: honour the hash seed, check the interpreter, enter the workdir."""
    folder = Path(script).resolve().parent
    replay = Replay(folder)
    wanted = replay.hash_seed()
    if wanted is not None and os.environ.get("PYTHONHASHSEED") != wanted:
        if os.environ.get("REPRO_REPLAY_REEXEC"):
            raise ReplayError(f"could not set PYTHONHASHSEED={wanted}; run with PYTHONHASHSEED={wanted}")
        env = dict(os.environ, PYTHONHASHSEED=wanted, REPRO_REPLAY_REEXEC="1")
        argv = [sys.executable, "-m", "IPython", "--"] if _under_ipython() else [sys.executable]
        print(f"[repro] restarting with PYTHONHASHSEED={wanted}, as recorded", file=sys.stderr)
        sys.stdout.flush(), sys.stderr.flush()
        os.execve(sys.executable, argv + [str(Path(script).resolve())] + sys.argv[1:], env)
    if replay.manifest.get("replay", {}).get("ipython_syntax") and not _under_ipython():
        raise SystemExit(f"{script}: this replay uses IPython syntax (magics or shell commands); run it with "
                         f"`ipython {script}`")
    replay.enter_workdir()
    return replay


def start_notebook(folder: str = ".") -> Replay:
    """Called by the first cell of ``replay.ipynb``: prepare every following step automatically."""
    replay = Replay(folder)
    shell = get_ipython()  # type: ignore[name-defined]  # noqa: F821
    if not replay.hash_seed_ok():
        print(f"[repro] warning: this session ran with PYTHONHASHSEED={replay.hash_seed()}; this kernel has "
              f"{os.environ.get('PYTHONHASHSEED')!r}. Start the kernel with that value for identical set/dict order.",
              file=sys.stderr)
    replay.enter_workdir()
    replay.install(shell)
    return replay
