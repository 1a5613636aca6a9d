"""Run git in a notebook's repository without running any program the repository configures.

git honours its configuration files, and a repository's own ``.git/config`` (or a file it includes) can name
programs that read commands run: ``core.fsmonitor`` on every index read, clean filters whenever a modified
file is compared, ``diff.external`` and textconv drivers for ``git diff``, hooks, pagers, ssh and credential
helpers for lazy fetches. A notebook folder that came from someone else must not run their code just because
``%repro start`` looked at its git state, so every git command jupyter-repro runs goes through
:class:`SafeGit`:

- global options ``--no-pager --no-optional-locks`` and ``-c`` overrides (highest precedence, every config
  file) that switch the program-running settings off: :data:`SAFE_CONFIG`, plus for every filter driver any
  config level defines (``filter.<name>.*``) empty ``clean``/``smudge``/``process`` and ``required=false``;
- ``--no-ext-diff --no-textconv --ignore-submodules=dirty`` on every ``git diff`` (:meth:`SafeGit.diff`);
- an environment without the variables that name programs, with prompts, optional locks and lazy fetches off
  (:func:`git_environment`).

GitPython is not used for this: it spawns git for its own reads (a persistent ``cat-file``, ``status``,
``diff``) with no way to give all of them these overrides. docs/limitations.md lists the commands run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Optional

# Settings whose value is a program (or turns one on) that a read command could run; set to values that run
# nothing. An empty core.fsmonitor, core.pager or credential.helper means "none" to git; ":" is git's no-op
# editor; the hooks folder /dev/null holds no hook; protocol.allow=never stops every transport, so a lazy
# fetch of a missing object in a partial clone cannot start ssh, a remote helper or an `ext::` command.
SAFE_CONFIG: tuple[tuple[str, str], ...] = (
    ("core.fsmonitor", ""),
    ("core.hooksPath", os.devnull),
    ("core.pager", ""),
    ("core.editor", ":"),
    ("sequence.editor", ":"),
    ("core.sshCommand", ""),
    ("core.gitProxy", ""),
    ("core.askPass", ""),
    ("core.alternateRefsCommand", ""),
    ("credential.helper", ""),
    ("gpg.program", ""),
    ("gpg.openpgp.program", ""),
    ("gpg.ssh.program", ""),
    ("gpg.x509.program", ""),
    ("log.showSignature", "false"),
    ("uploadpack.packObjectsHook", ""),
    ("protocol.allow", "never"),
    # A protocol's own setting wins over protocol.allow, and a repository can set one to "always".
    *((f"protocol.{name}.allow", "never") for name in ("file", "git", "ssh", "http", "https", "ext", "fd")),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
)

# What `git diff` must not run: diff.external and diff.<driver>.command (--no-ext-diff), textconv drivers
# (--no-textconv), and git inside each submodule (which would read the submodule's own config).
DIFF_OPTIONS = ("--no-ext-diff", "--no-textconv", "--no-color", "--ignore-submodules=dirty")

# Variables of the kernel's environment that name a program git would run.
_PROGRAM_VARIABLES = ("GIT_EXTERNAL_DIFF", "GIT_PAGER", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_ASKPASS", "SSH_ASKPASS",
                      "GIT_PROXY_COMMAND", "GIT_EDITOR", "GIT_SEQUENCE_EDITOR")

_FILTER_KEYS = ("clean", "smudge", "process")

TIMEOUT_S = 30.0

_FILTERS_ON = ("git diff skipped: a filter driver could not be switched off (a name holding '=', or an unreadable "
               "config), and comparing files would run it")


class GitFailed(RuntimeError):
    """A git command exited with an unexpected status, timed out, or git could not be started."""


def git_environment(base: Optional[dict[str, str]] = None) -> dict[str, str]:
    """``base`` (the process's environment) without program-naming variables, prompts and locks off."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in _PROGRAM_VARIABLES}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0", GIT_NO_LAZY_FETCH="1", GIT_PROTOCOL_FROM_USER="0",
               GIT_EDITOR=":")
    return env


def config_arguments(overrides: tuple[tuple[str, str], ...]) -> list[str]:
    return [arg for key, value in overrides for arg in ("-c", f"{key}={value}")]


def named_overrides(config_names: list[str]) -> tuple[tuple[str, str], ...]:
    """Overrides for the settings named in ``config_names`` (``git config --list`` names) that
    :data:`SAFE_CONFIG` cannot list in advance: every filter driver (empty ``clean``, ``smudge`` and
    ``process``, ``required=false``) and every ``protocol.<name>.allow`` (never).

    Every config level counts, not only the repository's: a trusted filter such as git-lfs reads the
    repository's config too (``lfs.extension.<name>.clean`` names a program it runs).
    """
    drivers: list[str] = []
    protocols: list[str] = []
    for name in config_names:
        section, _, rest = name.partition(".")
        sub, _, key = rest.rpartition(".")
        if section == "filter" and sub and key in (*_FILTER_KEYS, "required") and sub not in drivers:
            drivers.append(sub)
        elif section == "protocol" and sub and key == "allow" and sub not in protocols:
            protocols.append(sub)
    return (tuple((f"filter.{driver}.{key}", "") for driver in drivers for key in _FILTER_KEYS)
            + tuple((f"filter.{driver}.required", "false") for driver in drivers)
            + tuple((f"protocol.{name}.allow", "never") for name in protocols))


class SafeGit:
    """git commands in one work tree, each with the overrides that keep repository programs from running.

    ``filters_off`` is False when some filter driver could not be switched off (its name holds ``=``, which
    ``-c`` cannot spell, or ``git config --list`` failed): then the commands that compare working-tree files, and so run clean filters, are
    refused (:meth:`diff` raises :class:`GitFailed`).
    """

    def __init__(self, root: Path, overrides: tuple[tuple[str, str], ...], filters_off: bool = True,
                 executable: str = "git", timeout: float = TIMEOUT_S) -> None:
        self.root = root
        self.overrides = overrides
        self.filters_off = filters_off
        self.executable = executable
        self.timeout = timeout

    @classmethod
    def open(cls, folder: Path, timeout: float = TIMEOUT_S) -> Optional["SafeGit"]:
        """The work tree holding ``folder``; None when there is none (or no git on PATH).

        Raises GitFailed when ``folder`` is in a repository git will not read as a work tree (one owned by
        another user and not in ``safe.directory``, a bare or broken one).
        """
        executable = shutil.which("git")
        if executable is None or not Path(folder).is_dir():
            return None
        probe = cls(Path(folder), SAFE_CONFIG, executable=executable, timeout=timeout)
        try:
            names: Optional[str] = probe.run("config", "--list", "--name-only", "-z").decode("utf-8", "surrogateescape")
        except GitFailed:
            names = None  # the filter drivers are unknown, so none can be switched off
        named = named_overrides([n for n in (names or "").split("\0") if n])
        spellable = tuple((k, v) for k, v in named if "=" not in k and "\n" not in k)
        filters_off = names is not None and all(not k.startswith("filter.") for k, _v in set(named) - set(spellable))
        given = {key.lower() for key, _value in SAFE_CONFIG}  # the listing shows our own -c settings too
        probe.overrides = SAFE_CONFIG + tuple((k, v) for k, v in spellable if k.lower() not in given)
        try:
            top = probe.run("rev-parse", "--show-toplevel").decode("utf-8", "surrogateescape").strip()
        except GitFailed as exc:
            if "not a git repository" in str(exc).lower():
                return None
            raise  # in a repository git refuses to read (not its owner's, bare, broken): the caller says so
        if not top:
            return None
        return cls(_unresolved_root(Path(folder), Path(top)), probe.overrides, filters_off, executable, timeout)

    def command(self, *args: str) -> list[str]:
        """The argv of ``git args``, with the global options and the overrides."""
        return [self.executable, "--no-pager", "--no-optional-locks", *config_arguments(self.overrides), *args]

    def run(self, *args: str, ok: tuple[int, ...] = (0,)) -> bytes:
        """The stdout of ``git args`` run in the work tree; GitFailed if its exit status is not in ``ok``."""
        try:
            proc = subprocess.run(self.command(*args), cwd=self.root, env=git_environment(), capture_output=True,
                                  stdin=subprocess.DEVNULL, timeout=self.timeout)
        except (OSError, subprocess.SubprocessError) as exc:
            raise GitFailed(f"git {args[0]}: {type(exc).__name__}: {exc}") from None
        if proc.returncode not in ok:
            message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise GitFailed(f"git {args[0]} exited {proc.returncode}: {message[-1] if message else ''}")
        return proc.stdout if proc.returncode == 0 else b""

    def text(self, *args: str, ok: tuple[int, ...] = (0,)) -> str:
        return self.run(*args, ok=ok).decode("utf-8", "surrogateescape").strip()

    def diff(self, *args: str) -> bytes:
        """``git diff`` with :data:`DIFF_OPTIONS`; refused when a filter driver could not be switched off."""
        if not self.filters_off:
            raise GitFailed(_FILTERS_ON)
        return self.run("diff", *DIFF_OPTIONS, *args)

    def diff_digest(self, *args: str) -> Optional[str]:
        """The sha256 of ``git diff`` output (one final newline dropped, as GitPython did), read in chunks so a
        large diff never sits in memory; None when the diff is empty."""
        if not self.filters_off:
            raise GitFailed(_FILTERS_ON)
        try:
            proc = subprocess.Popen(self.command("diff", *DIFF_OPTIONS, *args), cwd=self.root, env=git_environment(),
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except OSError as exc:
            raise GitFailed(f"git diff: {type(exc).__name__}: {exc}") from None
        timer = threading.Timer(self.timeout, proc.kill)
        timer.start()
        digest, held, size = hashlib.sha256(), b"", 0
        stream = proc.stdout
        assert stream is not None
        try:
            for chunk in iter(lambda: stream.read(1 << 16), b""):
                digest.update(held)
                held, size = chunk, size + len(chunk)
            status = proc.wait()
        finally:
            timer.cancel()
            stream.close()
        if status != 0:
            raise GitFailed(f"git diff exited {status}")
        digest.update(held[:-1] if held.endswith(b"\n") else held)
        return digest.hexdigest() if size else None


def _unresolved_root(folder: Path, top: Path) -> Path:
    """The work tree's top folder as reached from ``folder`` (symlinks kept, as the user spells the path) when
    that is the folder git names, else git's own answer."""
    start = Path(os.path.abspath(folder))
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            try:
                if candidate.resolve() == top.resolve():
                    return candidate
            except OSError:
                pass
            break
    return top
